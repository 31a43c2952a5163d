// The replication lag the breaker judges, from the appliers this process runs. A lag figure
// must describe now: the p99 of the changes applied in the applier's window when there was
// traffic, and, always, how far each replica's proof of being caught up (the newest change or
// heartbeat it applied) trails the clock beyond the relay's idle heartbeat gap. An idle system
// whose heartbeats arrive has ~0 lag; one whose heartbeats stopped (broker, relay or replica
// down) has a lag that grows with the outage, so an outage during idle still trips.
#ifndef CMO_ORCHESTRATOR_BUDGET_REPLICATION_LAG_H_
#define CMO_ORCHESTRATOR_BUDGET_REPLICATION_LAG_H_

#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "shadow/applier.h"

namespace cmo::orchestrator {

// `heartbeat_gap`: the longest time between two heartbeats of an idle relay. `started`: when
// the appliers started; a replica that has proved nothing a heartbeat gap after that is
// counted as behind since then. nullopt: no evidence yet (never a healthy 0).
std::optional<absl::Duration> ReplicationLagNow(const std::vector<shadow::ApplierMetrics>& regions,
                                                absl::Time now, absl::Time started,
                                                absl::Duration heartbeat_gap);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BUDGET_REPLICATION_LAG_H_
