// What each client reports about each op, per window of ~250 ms: reads per path, shadow
// samples and their classes, fallbacks to the primary, session-guarantee violations, dropped
// samples, read latency per path and the non-matching comparisons themselves. The control
// service sums windows from every client into the op's consistency budget.
//
// Wire format on Kafka topic `cmo.telemetry` (key: client id), version 1, one JSON object per
// window — documented in shadow/README.md; fields are only ever added.
#ifndef CMO_SHADOW_TELEMETRY_H_
#define CMO_SHADOW_TELEMETRY_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/kafka.h"
#include "base/message_auth.h"
#include "base/mutex.h"
#include "flags/flag.h"
#include "shadow/mismatch.h"

namespace cmo::shadow {

inline constexpr std::string_view kTelemetryTopic = "cmo.telemetry";
inline constexpr int kTelemetryVersion = 1;
inline constexpr int kLatencySampleEvery = 16;

// Latency histogram with power-of-two microsecond buckets: bucket i counts latencies in
// [2^(i-1), 2^i) µs (bucket 0: < 1 µs; the last bucket: everything above).
inline constexpr int kLatencyBuckets = 24;
using LatencyHistogram = std::array<int64_t, kLatencyBuckets>;
int LatencyBucket(absl::Duration d);
// The upper bound of the bucket holding quantile q, in microseconds (0 when empty).
double HistogramQuantileUs(const LatencyHistogram& h, double q);

// One op's counts over one window.
struct OpWindow {
  std::string op;
  int64_t writes = 0;
  int64_t reads_strong = 0;
  int64_t reads_eventual = 0;
  int64_t samples = 0;                              // shadow comparisons completed in the window
  int64_t dropped_samples = 0;                      // comparison queue full
  std::array<int64_t, kMismatchClasses> classes{};  // by MismatchClass
  int64_t waits = 0;      // eventual reads that waited for the replica to reach the token
  int64_t fallbacks = 0;  // eventual-path reads served by the primary (replica too far behind)
  int64_t guarantee_violations = 0;  // a served replica read missed what the token promised
  // Amplification guards (flags/amplifier.h): writes that made their item hot, and eventual
  // reads sent strong because their item was hot. Encoded only when not zero.
  int64_t amplified_writes = 0;
  int64_t amplified_reads = 0;
  // A 1-in-kLatencySampleEvery sample of reads (timing every read would cost more than the
  // routing decision itself).
  LatencyHistogram latency_strong{};
  LatencyHistogram latency_eventual{};
  std::vector<Mismatch> mismatches;  // the non-matches themselves, capped per window
  bool operator==(const OpWindow&) const = default;
};

// How many writes one subject made in a window, as the client's heavy-hitters sketch counted
// them (an upper bound): what `top_k` tiers are found from (flags/tier.h).
struct SubjectWrites {
  std::string subject;
  int64_t writes = 0;
  bool operator==(const SubjectWrites&) const = default;
};
// The heaviest writers a window reports at most (only while a top_k tier exists).
inline constexpr int kMaxTopWriters = 64;

struct TelemetryWindow {
  int version = kTelemetryVersion;
  std::string client_id;
  std::string region;
  absl::Time start = absl::UnixEpoch();
  absl::Time end = absl::UnixEpoch();
  int64_t snapshot_revision = 0;
  bool control_plane_reachable = true;  // false: routing on the last good snapshot
  int64_t mismatches_dropped = 0;       // over the per-window cap
  std::vector<OpWindow> ops;
  std::vector<SubjectWrites> top_writers;  // heaviest first
  bool operator==(const TelemetryWindow&) const = default;
};

std::string EncodeTelemetry(const TelemetryWindow& w);
// kInvalidArgument for anything that is not a version-1 telemetry window (never throws).
absl::StatusOr<TelemetryWindow> DecodeTelemetry(std::string_view text);

// Counts on the request path: lock-free increments on per-op counters. Thread-safe.
class TelemetryRecorder {
 public:
  struct Counters;  // per op, created on first use and kept for the recorder's life

  explicit TelemetryRecorder(int max_mismatches_per_window = 100);
  ~TelemetryRecorder();

  // The op's counters; the pointer stays valid for the recorder's life. A per-thread cache of
  // the last few ops answers without touching the shared map and its lock.
  Counters* For(std::string_view op);

  void CountWrite(Counters* c);
  void CountRead(Counters* c, flags::Path path);
  // Into the path's latency histogram; callers time a sample of reads, not all of them.
  void RecordLatency(Counters* c, flags::Path path, absl::Duration latency);
  void CountWait(Counters* c);
  void CountFallback(Counters* c);
  void CountDroppedSample(Counters* c);
  void CountViolation(Counters* c);
  void CountAmplifiedWrite(Counters* c);
  void CountAmplifiedRead(Counters* c);
  void CountSample(Counters* c, MismatchClass cls);
  void RecordMismatch(const Mismatch& m);

  // Takes the counts accumulated since the last Cut() (ops with no activity left out).
  TelemetryWindow Cut(absl::Time start, absl::Time end);

 private:
  Counters* Find(std::string_view op);
  const uint64_t id_;  // process-unique, never reused: keys the per-thread cache
  const int max_mismatches_;
  base::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Counters>> ops_ ABSL_GUARDED_BY(mu_);
  base::Mutex mismatch_mu_;
  std::vector<Mismatch> mismatches_ ABSL_GUARDED_BY(mismatch_mu_);
  int64_t mismatches_dropped_ ABSL_GUARDED_BY(mismatch_mu_) = 0;
};

// Where finished windows go. Implementations are called from one thread at a time.
class TelemetrySink {
 public:
  virtual ~TelemetrySink() = default;
  virtual absl::Status Publish(const TelemetryWindow& w) = 0;
};

// Publishes windows to `cmo.telemetry` (key: client id), fire-and-forget: telemetry must never
// hold up the app, so a window that cannot be queued is dropped and counted.
class KafkaTelemetrySink final : public TelemetrySink {
 public:
  // Windows are signed with `keys` (base/message_auth.h); without keys they go unsigned and
  // the control service drops them (counted as telemetry_refused).
  static absl::StatusOr<std::unique_ptr<KafkaTelemetrySink>> Create(
      const base::KafkaConfig& kafka, std::shared_ptr<const base::KeyRing> keys);
  absl::Status Publish(const TelemetryWindow& w) override;
  int64_t dropped() const { return dropped_; }

 private:
  KafkaTelemetrySink(std::unique_ptr<base::KafkaProducer> producer,
                     std::shared_ptr<const base::KeyRing> keys)
      : producer_(std::move(producer)), keys_(std::move(keys)) {}
  std::unique_ptr<base::KafkaProducer> producer_;
  std::shared_ptr<const base::KeyRing> keys_;
  int64_t dropped_ = 0;
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_TELEMETRY_H_
