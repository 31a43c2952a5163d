// Helpers shared by the `cmo bench` drivers.
#ifndef CMO_ORCHESTRATOR_BENCH_BENCH_UTIL_H_
#define CMO_ORCHESTRATOR_BENCH_BENCH_UTIL_H_

#include <chrono>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::orchestrator {

using BenchClock = std::chrono::steady_clock;

inline double Seconds(BenchClock::duration d) { return std::chrono::duration<double>(d).count(); }

// A fresh directory under `parent` (the disk the benchmark's stores should live on).
absl::StatusOr<std::string> MakeTempDir(const std::string& parent);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_BENCH_UTIL_H_
