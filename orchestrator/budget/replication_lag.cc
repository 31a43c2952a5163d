#include "orchestrator/budget/replication_lag.h"

#include <algorithm>

namespace cmo::orchestrator {

std::optional<absl::Duration> ReplicationLagNow(const std::vector<shadow::ApplierMetrics>& regions,
                                                absl::Time now, absl::Time started,
                                                absl::Duration heartbeat_gap) {
  std::optional<absl::Duration> worst;
  for (const shadow::ApplierMetrics& m : regions) {
    std::optional<absl::Duration> lag;
    if (m.lag_samples > 0) lag = absl::Milliseconds(m.lag_p99_ms);
    // Silent since start counts as behind since start, once a heartbeat should have come.
    const absl::Time proof = m.caught_up_to.value_or(started);
    if (m.caught_up_to.has_value() || now - started > heartbeat_gap) {
      const absl::Duration behind = std::max(absl::ZeroDuration(), now - proof - heartbeat_gap);
      lag = std::max(lag.value_or(absl::ZeroDuration()), behind);
    }
    if (lag.has_value() && (!worst.has_value() || *lag > *worst)) worst = lag;
  }
  return worst;
}

}  // namespace cmo::orchestrator
