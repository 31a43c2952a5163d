// Sliding windows over the telemetry every client sends for an op: counts are added into
// fixed-width time buckets, and any window (the budget's short and long ones) is the sum of
// the buckets it covers. Memory is bounded by long_window / bucket width, whatever the
// number of clients.
#ifndef CMO_ORCHESTRATOR_BUDGET_SLI_WINDOW_H_
#define CMO_ORCHESTRATOR_BUDGET_SLI_WINDOW_H_

#include <cstdint>
#include <deque>

#include "absl/time/time.h"
#include "shadow/telemetry.h"

namespace cmo::orchestrator {

// What the budget's SLIs are computed from.
struct SliCounts {
  int64_t reads_eventual = 0;  // routed eventual (served by the replica or fallen back)
  int64_t reads_strong = 0;
  int64_t samples = 0;  // settled shadow comparisons
  int64_t lag = 0;      // ... of class lag: stale reads that converged
  int64_t bad = 0;      // ... of class divergence, missing or resurrected
  int64_t violations = 0;
  int64_t fallbacks = 0;
  int64_t windows = 0;  // telemetry windows that contributed

  SliCounts& operator+=(const SliCounts& o);
  static SliCounts From(const shadow::OpWindow& w);
};

// Not thread-safe (owned by the control service's evaluation loop).
class SliWindow {
 public:
  SliWindow(absl::Duration bucket, absl::Duration keep) : bucket_(bucket), keep_(keep) {}

  // Counts observed at `at` (the telemetry window's end).
  void Add(absl::Time at, const SliCounts& counts);
  // Sum over (now - length, now].
  SliCounts Sum(absl::Time now, absl::Duration length) const;
  // Sum over (since, now]: what happened after a state change (a half-open probe).
  SliCounts SumSince(absl::Time since) const;
  void Prune(absl::Time now);

 private:
  struct Bucket {
    int64_t index;  // floor(time / bucket_)
    SliCounts counts;
  };
  int64_t IndexOf(absl::Time t) const;
  const absl::Duration bucket_;
  const absl::Duration keep_;
  std::deque<Bucket> buckets_;  // ascending index
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BUDGET_SLI_WINDOW_H_
