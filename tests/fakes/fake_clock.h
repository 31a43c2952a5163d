// A settable clock for tests. Thread-safe.
#ifndef CMO_TESTS_FAKES_FAKE_CLOCK_H_
#define CMO_TESTS_FAKES_FAKE_CLOCK_H_

#include <atomic>

#include "base/clock.h"

namespace cmo::testing {

class FakeClock final : public base::Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000))
      : now_ns_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(now_ns_.load()); }
  void Advance(absl::Duration d) const { now_ns_ += absl::ToInt64Nanoseconds(d); }
  void SleepFor(absl::Duration d) const override { Advance(d); }

 private:
  mutable std::atomic<int64_t> now_ns_;
};

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_FAKE_CLOCK_H_
