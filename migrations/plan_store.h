// Persistence of plans and their progress, in the control database beside the flags (same
// connection, so a step change and its flag change commit together): applied plans, per-op
// progress with its hold clock, and the latest measured SLI values the gates read.
#ifndef CMO_MIGRATIONS_PLAN_STORE_H_
#define CMO_MIGRATIONS_PLAN_STORE_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "migrations/gate.h"

namespace cmo::base {
class SqlDb;
}

namespace cmo::migrations {

struct StoredPlan {
  std::string name;
  std::string file;
  std::string content;  // the YAML as applied; the executor re-parses it
  std::string digest;   // hex XXH3 of content: unchanged content is a no-op apply
  absl::Time applied_at;
};

// Where one op is in its plan. The hold clock (held_since) is persisted so a restart resumes
// with the same clocks.
struct OpProgress {
  std::string op;
  std::string plan;
  std::string phase;
  int step = -1;  // index into the phase's steps; -1: the phase has not started
  absl::Time step_started = absl::UnixEpoch();
  std::optional<absl::Time> held_since;  // since when every gate of the step has held
  bool paused = false;
  std::string pause_reason;
  bool manual_approved = false;  // an operator approved the step's manual gates

  bool operator==(const OpProgress&) const = default;
};

nlohmann::json ProgressToJson(const OpProgress& p);

// Not thread-safe; borrows the connection of the FlagStore it is used with.
class PlanStore {
 public:
  static absl::StatusOr<std::unique_ptr<PlanStore>> Open(base::SqlDb& db);

  absl::StatusOr<std::optional<StoredPlan>> GetPlan(std::string_view name);
  absl::StatusOr<std::vector<StoredPlan>> Plans();
  absl::Status PutPlan(const StoredPlan& plan);

  absl::StatusOr<std::vector<OpProgress>> AllProgress();
  absl::StatusOr<std::optional<OpProgress>> Progress(std::string_view op);
  // Writes inside the caller's transaction if one is open (SQLite autocommits otherwise).
  absl::Status PutProgress(const OpProgress& p);
  absl::Status DeleteProgress(std::string_view op);

  // Control-plane settings (`cmo settings`); nullopt: never set (the default applies).
  absl::StatusOr<std::optional<std::string>> GetSetting(std::string_view name);
  absl::Status PutSetting(std::string_view name, std::string_view value);

  // The latest value of an SLI, as written by the telemetry intake (or an operator with sqlite3).
  absl::Status SetMetric(std::string_view op, Metric metric, int64_t value, absl::Time at);
  absl::StatusOr<std::optional<std::pair<int64_t, absl::Time>>> GetMetric(std::string_view op,
                                                                          Metric metric);

 private:
  explicit PlanStore(base::SqlDb& db) : db_(db) {}
  base::SqlDb& db_;
};

// Gate inputs from the metrics table; values older than `max_age` count as no data, so gates
// never pass on telemetry that stopped arriving.
class StoredMetrics final : public MetricSource {
 public:
  StoredMetrics(PlanStore& store, const base::Clock& clock, absl::Duration max_age)
      : store_(store), clock_(clock), max_age_(max_age) {}
  std::optional<int64_t> Latest(std::string_view op, Metric metric) override;

 private:
  PlanStore& store_;
  const base::Clock& clock_;
  absl::Duration max_age_;
};

}  // namespace cmo::migrations

#endif  // CMO_MIGRATIONS_PLAN_STORE_H_
