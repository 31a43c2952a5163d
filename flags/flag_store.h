// The persisted flags of one control plane: current flags, a monotonically increasing revision,
// and an append-only audit log, in one database: the state dir's SQLite file (WAL) or a shared
// PostgreSQL control state. Every change is one transaction that updates the flag, bumps the
// revision and appends the audit entry, so a crash at any point leaves the old state or the
// new one, never a mix.
#ifndef CMO_FLAGS_FLAG_STORE_H_
#define CMO_FLAGS_FLAG_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "flags/flag.h"
#include "flags/snapshot.h"

namespace cmo::base {
class SqlDb;
}

namespace cmo::flags {

// Who changes what, why. Every change carries one; the audit log records it.
struct ChangeContext {
  std::string actor;
  std::string reason;
  std::string action;    // "add", "advance", "ramp", "rollback", ...
  bool dry_run = false;  // validate and report, but write nothing
};

struct Change {
  std::optional<Flag> before;  // absent when the op was added
  Flag after;
  int64_t revision = 0;  // the new revision; the current one when nothing changed
  bool changed = false;  // false: the edit was a no-op (nothing written, nothing audited)
  bool dry_run = false;
};

struct AuditEntry {
  int64_t revision = 0;
  absl::Time at;
  std::string actor;
  std::string op;
  std::string action;
  nlohmann::json before;  // null when the op was added
  nlohmann::json after;
  std::string reason;
};

// Owns one connection to the flag database. Not thread-safe: one FlagStore per thread or
// process; several processes may use the same database (writers serialize on SQLite's lock).
class FlagStore {
 public:
  // Opens (creating and migrating as needed) the database `url` names: an SQLite file path
  // (or sqlite:PATH), or postgresql://... (base/db_url.h).
  static absl::StatusOr<std::unique_ptr<FlagStore>> Open(const std::string& url,
                                                         const base::Clock& clock);
  ~FlagStore();

  absl::StatusOr<int64_t> Revision();
  absl::StatusOr<std::vector<Flag>> List();
  // kNotFound naming the known ops when `op` is not registered.
  absl::StatusOr<Flag> Get(std::string_view op);
  absl::StatusOr<std::shared_ptr<const Snapshot>> LoadSnapshot();

  // Registers a new op (stage strong). Salt defaults to the domain. kAlreadyExists if present.
  absl::StatusOr<Change> Add(Flag flag, const ChangeContext& ctx);

  // Reads op's flag, applies `edit`, validates, and writes it with a new revision and an audit
  // entry — all in one transaction. The flag is unchanged if `edit` or validation fails.
  absl::StatusOr<Change> Update(std::string_view op, const ChangeContext& ctx,
                                absl::FunctionRef<absl::Status(Flag&)> edit);

  // Update, plus `in_txn` run inside the same transaction after the flag is written (also when
  // the edit changed nothing), so state kept beside the flag (plan progress) commits with it
  // or not at all. Not called on dry runs.
  absl::StatusOr<Change> Update(std::string_view op, const ChangeContext& ctx,
                                absl::FunctionRef<absl::Status(Flag&)> edit,
                                absl::FunctionRef<absl::Status(const Change&)> in_txn);

  // Appends an audit entry that is not a flag change (a plan applied, an op paused), with a
  // new revision. `before`/`after` describe what changed.
  absl::StatusOr<int64_t> RecordEvent(std::string_view op, const ChangeContext& ctx,
                                      const nlohmann::json& before, const nlohmann::json& after);
  // The same for state kept beside the flags (support overrides): `in_txn` runs first in the
  // transaction and says what changed; when it fails nothing is written.
  absl::StatusOr<int64_t> RecordEvent(
      std::string_view op, const ChangeContext& ctx,
      absl::FunctionRef<absl::Status(nlohmann::json& before, nlohmann::json& after)> in_txn);

  // Appends an audit entry that changes nothing (a refused API call) without taking a
  // revision; History() shows it among the changes in the order it happened.
  absl::Status RecordNotice(std::string_view op, const ChangeContext& ctx,
                            const nlohmann::json& after);

  // The connection, for components that keep their tables in the same database and must
  // write in the same transactions (migrations/plan_store.h). Same thread only.
  base::SqlDb& db() { return *db_; }
  const base::Clock& clock() const { return clock_; }

  // Newest first; `op` filters; at most `limit` entries.
  absl::StatusOr<std::vector<AuditEntry>> History(std::optional<std::string_view> op, int limit);

  // Called inside the change transaction after the flag row is written and before the audit
  // entry and revision are; crash tests kill the process there.
  void SetMidChangeHookForTest(std::function<void()> hook) { mid_change_hook_ = std::move(hook); }

 private:
  FlagStore(std::unique_ptr<base::SqlDb> db, const base::Clock& clock);
  absl::StatusOr<std::optional<Flag>> Find(std::string_view op);
  absl::StatusOr<int64_t> Write(const std::optional<Flag>& before, Flag& after,
                                const ChangeContext& ctx);
  absl::Status NotFound(std::string_view op);
  absl::Status AppendAudit(int64_t revision, std::string_view op, const ChangeContext& ctx,
                           const nlohmann::json& before, const nlohmann::json& after);
  absl::Status SetRevision(int64_t revision);

  std::unique_ptr<base::SqlDb> db_;
  const base::Clock& clock_;
  std::function<void()> mid_change_hook_;
};

}  // namespace cmo::flags

#endif  // CMO_FLAGS_FLAG_STORE_H_
