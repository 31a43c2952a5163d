// The synthetic social-network workload of `cmo demo`: users with a power-law (Zipf) activity
// distribution — the top ranks are the super users celebrity-1, celebrity-2 and creator-99 —
// reading like counts, feeds and comment threads, liking and commenting, and now and then
// paying, through the client library as an app would (with per-user session tokens).
#ifndef CMO_ORCHESTRATOR_DEMO_WORKLOAD_H_
#define CMO_ORCHESTRATOR_DEMO_WORKLOAD_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "shadow/client.h"

namespace cmo::orchestrator {

// Draws user ranks 0..n-1 with P(rank k) proportional to 1/(k+1)^s. Thread-compatible.
class ZipfPicker {
 public:
  ZipfPicker(int n, double s);
  int Pick(std::mt19937_64& rng) const;
  int size() const { return static_cast<int>(cdf_.size()); }

 private:
  std::vector<double> cdf_;
};

// The name of the user of rank `rank` (ranks 0-2 are the plan's super users).
std::string UserName(int rank);
// The inverse of UserName; INT_MAX for a name it never gives.
int UserRank(std::string_view name);

struct WorkloadCounts {
  std::atomic<int64_t> reads{0};
  std::atomic<int64_t> writes{0};
  std::atomic<int64_t> eventual_reads{0};  // routed eventual (replica, or fell back)
  std::atomic<int64_t> fell_back{0};
  std::atomic<int64_t> errors{0};
  std::mutex mu;
  std::string first_error;  // guarded by mu: what the summary shows of the errors
};

struct WorkloadOptions {
  int users = 10'000;
  double zipf_s = 1.05;
  int ops_per_s = 1000;
  uint64_t seed = 1;
  int shard = 0;  // this thread drives the users with rank % shards == shard
  int shards = 1;
};

// Runs until `stop`; one thread. Errors are counted, not fatal (the demo reports them).
void RunWorkload(shadow::Client& client, const WorkloadOptions& options,
                 const std::atomic<bool>& stop, WorkloadCounts& counts);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_DEMO_WORKLOAD_H_
