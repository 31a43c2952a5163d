// Samples of the primary's last LSN over time, so that "the replica holds every write committed
// more than `max` ago" (bounded staleness) becomes an LSN comparison: a sample (t, L) taken at
// or after now - max has L >= every LSN committed before now - max, so a replica watermark >= L
// is fresh enough. Conservative by construction: it may send a read to the primary that the
// replica could have served, never the reverse.
#ifndef CMO_SHADOW_LSN_HISTORY_H_
#define CMO_SHADOW_LSN_HISTORY_H_

#include <cstdint>
#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "base/mutex.h"
#include "absl/time/time.h"

namespace cmo::shadow {

// Thread-safe.
class LsnHistory {
 public:
  explicit LsnHistory(absl::Duration keep = absl::Minutes(5)) : keep_(keep) {}

  // Samples must come in time order (one sampling thread).
  void Add(absl::Time at, int64_t lsn) {
    base::MutexLock lock(&mu_);
    samples_.push_back({at, lsn});
    while (samples_.size() > 2 && samples_[1].at < at - keep_) samples_.pop_front();
  }

  // The LSN a replica must have applied to hold every write committed before `since`: that
  // of the earliest sample taken at or after `since`. nullopt when there is none (no samples,
  // or sampling stalled): the caller cannot prove freshness and must use the primary.
  std::optional<int64_t> RequiredFor(absl::Time since) const {
    base::MutexLock lock(&mu_);
    for (const Sample& s : samples_) {
      if (s.at >= since) return s.lsn;
    }
    return std::nullopt;
  }

 private:
  struct Sample {
    absl::Time at;
    int64_t lsn;
  };
  const absl::Duration keep_;
  mutable base::Mutex mu_;
  std::deque<Sample> samples_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_LSN_HISTORY_H_
