// Helpers shared by the `cmo bench` drivers.
#ifndef CMO_ORCHESTRATOR_BENCH_BENCH_UTIL_H_
#define CMO_ORCHESTRATOR_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

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

// Starts args[0] with args (no shell); the caller waits for it by pid.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& args);

// The q-quantile (0..1) of v, nearest rank; 0 for no samples.
double Percentile(std::vector<double> v, double q);

// Drops a bench's PostgreSQL schema on each server when the run ends, however it ends.
struct DropSchemas {
  std::vector<std::string> urls;
  std::string schema;
  ~DropSchemas();
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_BENCH_UTIL_H_
