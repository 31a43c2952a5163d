// What Prometheus client libraries export as process_* for every process, read from /proc:
// operators' dashboards and alerts (memory growth, fd leaks, restarts) expect them.
#ifndef CMO_BASE_PROCESS_STATS_H_
#define CMO_BASE_PROCESS_STATS_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace cmo::base {

struct ProcessStats {
  double start_time_seconds = 0;  // since the Unix epoch
  double cpu_seconds = 0;         // user + system
  int64_t resident_memory_bytes = 0;
  int64_t virtual_memory_bytes = 0;
  int64_t open_fds = 0;
  int64_t max_fds = 0;  // the soft limit
};

// This process's; kUnavailable when /proc cannot be read (not Linux, /proc not mounted).
absl::StatusOr<ProcessStats> ReadProcessStats();

}  // namespace cmo::base

#endif  // CMO_BASE_PROCESS_STATS_H_
