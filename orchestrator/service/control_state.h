// The control plane's state in one state dir: the flag store, the plan store on the same
// connection, gate inputs and the plan executor. Opened by the CLI per command and by
// long-running processes (`cmo serve`'s control loop and plan executor, `cmo plan run`).
#ifndef CMO_ORCHESTRATOR_SERVICE_CONTROL_STATE_H_
#define CMO_ORCHESTRATOR_SERVICE_CONTROL_STATE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "flags/flag_store.h"
#include "migrations/plan_executor.h"
#include "migrations/plan_store.h"

namespace cmo::orchestrator {

// Not thread-safe: owned by one thread.
struct ControlState {
  std::unique_ptr<flags::FlagStore> flags;
  std::unique_ptr<migrations::PlanStore> plans;
  std::unique_ptr<migrations::StoredMetrics> metrics;
  std::unique_ptr<migrations::PlanExecutor> executor;
};

// Gate inputs older than this count as missing (telemetry stopped: gates must not pass).
inline constexpr absl::Duration kDefaultMaxMetricAge = absl::Seconds(60);

// Opens the control state of `state_dir`: STATE_DIR/control.db, or the PostgreSQL control
// state `cmo serve --role control` recorded in STATE_DIR/stores. On PostgreSQL every write
// transaction is fenced by the leader lease (leader_lease.h): only a process holding the lease
// writes; others get kUnavailable naming the leader. `create` makes the state dir (0700) if
// missing; otherwise a missing state dir is an input error naming the path, so a mistyped path
// is not silently empty.
absl::StatusOr<std::unique_ptr<ControlState>> OpenControlState(
    const std::string& state_dir, bool create, const base::Clock& clock,
    absl::Duration max_metric_age = kDefaultMaxMetricAge);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_CONTROL_STATE_H_
