// Shadow comparison off the hot path: the request thread hands over the row it served and
// returns at once; a background worker reads the other path, compares with the domain's
// comparator, re-checks version differences after the op's staleness window, counts every
// outcome in telemetry and reports each non-match.
//
// The queue is bounded: when it is full a sample is dropped and counted, never waited for.
#ifndef CMO_SHADOW_SHADOW_COMPARER_H_
#define CMO_SHADOW_SHADOW_COMPARER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "base/clock.h"
#include "flags/flag.h"
#include "shadow/comparator.h"
#include "shadow/mismatch.h"
#include "shadow/telemetry.h"
#include "store/row.h"

namespace cmo::shadow {

struct ShadowSample {
  TelemetryRecorder::Counters* counters = nullptr;  // the op's
  std::string op;
  std::string subject;
  std::string domain;
  std::string key;
  flags::Path served = flags::Path::kStrong;  // the path whose answer the app got
  std::optional<store::Row> served_row;
  // When a replica answered under a session guarantee: the LSN the session's token demanded.
  // Any version <= it that the replica lacked is a guarantee violation.
  int64_t promised_lsn = 0;
  absl::Duration staleness_window = absl::Seconds(5);
};

struct ShadowOptions {
  std::string region;
  int capacity = 10'000;  // queued samples plus pending re-checks
  std::map<std::string, Comparator> comparators;  // by domain; exact bytes otherwise
};

// Thread-safe. Offer() from request threads; the work runs on the worker thread (Start) or
// in RunOnce() (tests, driven by a fake clock).
class ShadowComparer {
 public:
  // Reads one path's current row for (domain, key). Called only from the worker.
  using ReadPath = std::function<absl::StatusOr<std::optional<store::Row>>(
      flags::Path path, const std::string& domain, const std::string& key)>;

  ShadowComparer(ReadPath read, TelemetryRecorder& telemetry, const base::Clock& clock,
                 ShadowOptions options);
  ~ShadowComparer();  // stops the worker

  // Never blocks. False (and the drop counted) when the queue is full.
  bool Offer(ShadowSample sample);

  // Processes up to `max` queued samples and due re-checks; returns how many.
  int RunOnce(int max);
  void Start();
  void Stop();

  size_t pending();
  int64_t read_errors();

 private:
  struct Recheck {
    int64_t first_primary_lsn;
    ShadowSample sample;
  };
  void Process(ShadowSample sample);
  void Settled(const ShadowSample& s, MismatchClass cls, const std::optional<store::Row>& primary,
               const std::optional<store::Row>& replica);
  const Comparator& ComparatorFor(const std::string& domain) const;

  ReadPath read_;
  TelemetryRecorder& telemetry_;
  const base::Clock& clock_;
  const ShadowOptions options_;
  const Comparator exact_;

  base::Mutex mu_;
  std::deque<ShadowSample> queue_ ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Time, Recheck> rechecks_ ABSL_GUARDED_BY(mu_);  // by due time
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int64_t read_errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread worker_;
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_SHADOW_COMPARER_H_
