// Helpers shared by the `cmo bench` drivers.
#ifndef CMO_ORCHESTRATOR_BENCH_BENCH_UTIL_H_
#define CMO_ORCHESTRATOR_BENCH_BENCH_UTIL_H_

#include <chrono>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::orchestrator {

using BenchClock = std::chrono::steady_clock;

inline double Seconds(BenchClock::duration d) { return std::chrono::duration<double>(d).count(); }

// A fresh directory under `parent` (the disk the benchmark's stores should live on), removed
// with everything in it when this goes out of scope.
class ScopedTempDir {
 public:
  static absl::StatusOr<ScopedTempDir> Make(const std::string& parent);
  ScopedTempDir(ScopedTempDir&& other) noexcept : path_(std::move(other.path_)) {
    other.path_.clear();
  }
  ScopedTempDir& operator=(ScopedTempDir&&) = delete;
  ~ScopedTempDir();
  const std::string& path() const { return path_; }

 private:
  explicit ScopedTempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Runs `write` until it is not kUnavailable (a store locked by the data path's own writers
// under load), at most `attempts` times. For the harness's own writes (injected faults,
// repairs), which must land, not fail the run.
absl::Status RetryWhileBusy(const std::function<absl::Status()>& write, int attempts = 5);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_BENCH_UTIL_H_
