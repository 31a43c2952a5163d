// The fleet's heaviest writers, for `top_k` tiers (flags/tier.h): sums the heaviest writers
// every client reports in its telemetry windows (TelemetryWindow.top_writers, each client's own
// Space-Saving sketch) into time buckets, and every `refresh_every` publishes each top_k tier's
// K heaviest over the tier's window to the control state, which puts them in the next flag
// snapshot. A change is audited (action `tier.top_k`).
//
// Buckets are 1/60 of the longest top_k window (at least 10 s), so memory stays bounded
// whatever the windows: 60 buckets of at most 4*K (at least 256) subjects each. A window with
// no report at all keeps the members published last: no evidence is not evidence that the
// super users stopped writing.
#ifndef CMO_ORCHESTRATOR_SERVICE_HEAVY_WRITERS_H_
#define CMO_ORCHESTRATOR_SERVICE_HEAVY_WRITERS_H_

#include <deque>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "flags/flag_store.h"
#include "flags/heavy_hitters.h"
#include "shadow/telemetry.h"

namespace cmo::orchestrator {

struct HeavyWritersOptions {
  absl::Duration refresh_every = absl::Seconds(10);
  absl::Duration min_bucket = absl::Seconds(10);
};

// Not thread-safe: the control loop's thread only.
class HeavyWriters {
 public:
  HeavyWriters(flags::FlagStore& flags, const base::Clock& clock, HeavyWritersOptions options = {})
      : flags_(flags), clock_(clock), options_(options) {}

  void Ingest(const shadow::TelemetryWindow& w);
  // Publishes changed top-K sets when a refresh is due; returns how many tiers changed.
  absl::StatusOr<int> Refresh();

 private:
  struct Bucket {
    absl::Time start;
    flags::HeavyHitters writers;
  };
  absl::Status LoadTiers();

  flags::FlagStore& flags_;
  const base::Clock& clock_;
  const HeavyWritersOptions options_;
  std::vector<flags::Tier> tiers_;                // the top_k ones, as of the last refresh
  absl::Duration bucket_ = absl::ZeroDuration();  // zero: no top_k tier, nothing is kept
  int capacity_ = 256;
  std::deque<Bucket> buckets_;  // oldest first
  absl::Time next_refresh_ = absl::InfinitePast();
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_HEAVY_WRITERS_H_
