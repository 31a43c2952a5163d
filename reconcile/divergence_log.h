// The divergence log: one record per divergence found by shadow reads or by reconciliation, in
// the control database, for support ("where did my comment go?") and for tracing a mismatch to
// the write that caused it. Values are never stored — only row digests — so reports cannot leak
// personal data.
#ifndef CMO_RECONCILE_DIVERGENCE_LOG_H_
#define CMO_RECONCILE_DIVERGENCE_LOG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/sql.h"

namespace cmo::reconcile {

struct DivergenceRecord {
  int64_t id = 0;  // assigned by Append
  std::string domain;
  std::string key;
  std::string subject;  // the user whose read or write it concerns ("" when unknown)
  std::string op;
  std::string diff_class;  // shadow classes (lag, divergence, missing, resurrected) or
                           // reconciliation classes (missing, stale, divergent, ...)
  std::string region;
  int64_t primary_lsn = 0;
  int64_t replica_lsn = 0;
  // Where the change that last touched the key went: its change-topic partition (the key's,
  // fixed by PartitionOf) and offset when known (-1: not known to the detector).
  int32_t partition = -1;
  int64_t offset = -1;
  std::string primary_digest;  // hex RowHash of each side's row, "" when absent
  std::string replica_digest;
  std::string detected_by;  // "shadow" or "reconcile"
  absl::Time detected_at = absl::UnixEpoch();
  std::optional<absl::Time> healed_at;
  std::string heal_action;  // "converged (replication lag)", "replica <- primary", ...
};

struct DivergenceQuery {
  std::string subject;  // "" = any
  std::string op;
  std::string domain;
  std::string key;
  absl::Time since = absl::InfinitePast();
  int limit = 10'000;
};

struct KeyDiff;
// The log record of one reconciliation finding; `partition`: of the key's change topic (-1 if
// unknown). Healed findings carry `now` as their repair time.
DivergenceRecord FromKeyDiff(const KeyDiff& d, const std::string& region, int32_t partition,
                             absl::Time now);

// Borrows a connection (the control database's). Not thread-safe.
class DivergenceLog {
 public:
  static absl::StatusOr<std::unique_ptr<DivergenceLog>> Open(base::SqlDb& db);
  absl::StatusOr<int64_t> Append(const DivergenceRecord& r);
  absl::Status Append(const std::vector<DivergenceRecord>& records);  // one transaction
  // Oldest first.
  absl::StatusOr<std::vector<DivergenceRecord>> Find(const DivergenceQuery& q);
  // Marks every unhealed record of (domain, key, region) healed.
  absl::Status MarkHealed(const std::string& domain, const std::string& key,
                          const std::string& region, absl::Time at, const std::string& action);

 private:
  explicit DivergenceLog(base::SqlDb& db) : db_(db) {}
  base::SqlDb& db_;
};

}  // namespace cmo::reconcile

#endif  // CMO_RECONCILE_DIVERGENCE_LOG_H_
