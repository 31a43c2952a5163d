// `cmo bench tiers`: what issue #21 measures for super users, with `cmo serve`'s data path in
// this process (embedded Kafka, `regions` regions, a bulk writer in the background):
//  - the priority channel: a priority tier's writes while every region's bulk channel is held
//    `backlog` behind (ApplierOptions::simulated_bulk_delay), their lag (commit to applied, as
//    the appliers measure it) against the bulk's, worst region;
//  - the converged-notification delay: a write's commit until `Client::WaitConverged` says
//    it is applied in every region (no backlog: a converged mark waits for the bulk too).
#ifndef CMO_ORCHESTRATOR_BENCH_TIERS_BENCH_H_
#define CMO_ORCHESTRATOR_BENCH_TIERS_BENCH_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cmo::orchestrator {

struct TiersBenchOptions {
  int regions = 3;
  int notifications = 300;      // writes each waited on until converged
  int bulk_writes_per_s = 500;  // other writes meanwhile (the relay and appliers stay busy)
  int priority_writes = 200;    // a priority tier member's writes, 20 ms apart
  absl::Duration backlog = absl::Seconds(3);  // how far behind the bulk channel is held
  std::string work_dir = "/tmp";
};

// The priority scene alone (also `cmo demo`'s): ordinary users post (bulk), the celebrity
// answers each post (`depends_on` it; a priority tier), every region's bulk channel held
// `backlog` behind, while a follower opens replies and then their posts under `eventual` and
// `consistent_prefix` in turn. Fields: priority_lag_p50_ms, priority_lag_p99_ms,
// bulk_lag_p99_ms (worst region, as the appliers measure commit to applied), priority_writes,
// priority_lag_samples_min, bulk_writes_during_priority, backlog_ms, follower_pages_eventual,
// replies_before_posts_eventual, follower_pages_consistent_prefix,
// replies_before_posts_consistent_prefix.
absl::StatusOr<nlohmann::json> RunPriorityScene(const TiersBenchOptions& options);

// Fields: the priority scene's, then notify_delay_p50_ms,
// notify_delay_p99_ms, notify_delay_max_ms, notifications, regions, bulk_writes_per_s,
// bulk_writes.
absl::StatusOr<nlohmann::json> RunTiersBench(const TiersBenchOptions& options);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_TIERS_BENCH_H_
