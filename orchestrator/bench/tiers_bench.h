// `cmo bench tiers`: what issue #21 measures for super users. Today: the converged-notification
// delay — a write's commit until `Client::WaitConverged` says it is applied in every region —
// with `cmo serve`'s data path in this process (embedded Kafka, `regions` regions, a bulk
// writer in the background). The priority replication channel is not built yet, so its
// figures (priority_lag_p99_ms, bulk_lag_p99_ms) are reported as null, never invented.
#ifndef CMO_ORCHESTRATOR_BENCH_TIERS_BENCH_H_
#define CMO_ORCHESTRATOR_BENCH_TIERS_BENCH_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::orchestrator {

struct TiersBenchOptions {
  int regions = 3;
  int notifications = 300;      // writes each waited on until converged
  int bulk_writes_per_s = 500;  // other writes meanwhile (the relay and appliers stay busy)
  std::string work_dir = "/tmp";
};

// Fields: notify_delay_p50_ms, notify_delay_p99_ms, notify_delay_max_ms, notifications,
// regions, bulk_writes_per_s, bulk_writes, priority_lag_p99_ms (null), bulk_lag_p99_ms (null),
// not_measured.
absl::StatusOr<nlohmann::json> RunTiersBench(const TiersBenchOptions& options);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_TIERS_BENCH_H_
