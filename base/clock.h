// The one place library code gets the time from, so tests can inject a fake clock.
#ifndef CMO_BASE_CLOCK_H_
#define CMO_BASE_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cmo::base {

// Source of wall-clock time. Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Waits `d` (a fake clock just advances), so library code that polls never calls a bare
  // sleep and tests of waiting logic stay deterministic.
  virtual void SleepFor(absl::Duration d) const = 0;
};

// The real clock. Thread-safe; a process-wide instance is returned by SystemClock().
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration d) const override { absl::SleepFor(d); }
};

Clock& SystemClock();

}  // namespace cmo::base

#endif  // CMO_BASE_CLOCK_H_
