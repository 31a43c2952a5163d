#include "shadow/shadow_comparer.h"

namespace cmo::shadow {
namespace {

constexpr size_t kWakeAt = 64;  // queued samples that wake the worker before its tick
constexpr absl::Duration kTick = absl::Milliseconds(5);

}  // namespace

ShadowComparer::ShadowComparer(ReadPath read, TelemetryRecorder& telemetry,
                               const base::Clock& clock, ShadowOptions options)
    : read_(std::move(read)), telemetry_(telemetry), clock_(clock), options_(std::move(options)) {}

ShadowComparer::~ShadowComparer() { Stop(); }

bool ShadowComparer::Offer(ShadowSample sample) {
  TelemetryRecorder::Counters* counters = sample.counters;
  {
    base::MutexLock lock(&mu_);
    if (queue_.size() + rechecks_.size() < static_cast<size_t>(options_.capacity)) {
      queue_.push_back(std::move(sample));
      // The worker wakes every few ms anyway: waking it for each sample cost the request
      // thread a futex call and the machine a cross-CPU wake-up per sample. Only a queue
      // filling up (a burst) wakes it early.
      if (queue_.size() == kWakeAt) mu_.SignalAll();
      return true;
    }
  }
  telemetry_.CountDroppedSample(counters);
  return false;
}

const Comparator& ShadowComparer::ComparatorFor(const std::string& domain) const {
  auto it = options_.comparators.find(domain);
  return it == options_.comparators.end() ? exact_ : it->second;
}

void ShadowComparer::Process(ShadowSample s) {
  const flags::Path other =
      s.served == flags::Path::kStrong ? flags::Path::kEventual : flags::Path::kStrong;
  absl::StatusOr<std::optional<store::Row>> read = read_(other, s.domain, s.key);
  if (!read.ok()) {
    base::MutexLock lock(&mu_);
    ++read_errors_;
    return;
  }
  const std::optional<store::Row>& primary =
      s.served == flags::Path::kStrong ? s.served_row : *read;
  const std::optional<store::Row>& replica =
      s.served == flags::Path::kStrong ? *read : s.served_row;
  // The primary never forgets a version: one at or below what the token promised was there
  // when the replica answered, so a replica row older than it broke the session's guarantee.
  if (s.served == flags::Path::kEventual && s.promised_lsn > 0 && primary.has_value() &&
      primary->lsn <= s.promised_lsn && (!replica.has_value() || replica->lsn < primary->lsn)) {
    telemetry_.CountViolation(s.counters);
  }
  switch (Compare(ComparatorFor(s.domain), primary, replica)) {
    case FirstLook::kMatch:
      telemetry_.CountSample(s.counters, MismatchClass::kMatch);
      return;
    case FirstLook::kDivergence:
      Settled(s, MismatchClass::kDivergence, primary, replica);
      return;
    case FirstLook::kRecheck:
      break;
  }
  const absl::Time due = clock_.Now() + s.staleness_window;
  const int64_t first_primary_lsn = primary.has_value() ? primary->lsn : 0;
  base::MutexLock lock(&mu_);
  rechecks_.emplace(due, Recheck{first_primary_lsn, std::move(s)});
}

void ShadowComparer::Settled(const ShadowSample& s, MismatchClass cls,
                             const std::optional<store::Row>& primary,
                             const std::optional<store::Row>& replica) {
  telemetry_.CountSample(s.counters, cls);
  telemetry_.RecordMismatch(Mismatch{s.op, s.subject, s.domain, s.key, options_.region, cls,
                                     primary.has_value() ? primary->lsn : 0,
                                     replica.has_value() ? replica->lsn : 0, clock_.Now()});
}

int ShadowComparer::RunOnce(int max) {
  int done = 0;
  while (done < max) {
    std::optional<ShadowSample> next;
    std::optional<Recheck> recheck;
    {
      base::MutexLock lock(&mu_);
      if (!rechecks_.empty() && rechecks_.begin()->first <= clock_.Now()) {
        recheck = std::move(rechecks_.begin()->second);
        rechecks_.erase(rechecks_.begin());
      } else if (!queue_.empty()) {
        next = std::move(queue_.front());
        queue_.pop_front();
      } else {
        break;
      }
    }
    ++done;
    if (next.has_value()) {
      Process(*std::move(next));
      continue;
    }
    const ShadowSample& s = recheck->sample;
    auto replica = read_(flags::Path::kEventual, s.domain, s.key);  // first: see Settle()
    auto primary = read_(flags::Path::kStrong, s.domain, s.key);
    if (!primary.ok() || !replica.ok()) {
      base::MutexLock lock(&mu_);
      ++read_errors_;
      continue;
    }
    Settled(s, Settle(ComparatorFor(s.domain), recheck->first_primary_lsn, *primary, *replica),
            *primary, *replica);
  }
  return done;
}

void ShadowComparer::Start() {
  if (worker_.joinable()) return;
  worker_ = std::thread([this] {
    while (true) {
      {
        base::MutexLock lock(&mu_);
        if (stop_) return;
      }
      if (RunOnce(256) > 0) continue;
      base::MutexLock lock(&mu_);
      // Wakes every few ms for queued samples and due re-checks, early for a burst.
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || queue_.size() >= kWakeAt;
      };
      mu_.AwaitWithTimeout(ready, kTick);
    }
  });
}

void ShadowComparer::Stop() {
  {
    base::MutexLock lock(&mu_);
    stop_ = true;
    mu_.SignalAll();
  }
  if (worker_.joinable()) worker_.join();
}

size_t ShadowComparer::pending() {
  base::MutexLock lock(&mu_);
  return queue_.size() + rechecks_.size();
}

int64_t ShadowComparer::read_errors() {
  base::MutexLock lock(&mu_);
  return read_errors_;
}

}  // namespace cmo::shadow
