// Counts of the API's HTTP answers by method and status, and how long the handlers took: the
// request metrics of /metrics. Recorded on the I/O thread (early refusals, health) and on
// workers; lock-free, so counting never slows an answer.
#ifndef CMO_ORCHESTRATOR_API_INTERNAL_HTTP_STATS_H_
#define CMO_ORCHESTRATOR_API_INTERNAL_HTTP_STATS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace cmo::orchestrator::api_internal {

class HttpStats {
 public:
  // Upper bounds (seconds) of the handler-duration histogram's buckets; +Inf is implied.
  static constexpr std::array<double, 9> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,  0.1,    0.5,   1};

  // An answer sent with `status` to a request of `method`.
  void Count(std::string_view method, int status);
  // How long a worker's handler took to make an answer.
  void Observe(absl::Duration handler);

  struct Line {
    std::string method;  // GET, POST or other
    int status = 0;
    int64_t count = 0;
  };
  // The counts seen so far (pairs never seen are left out).
  std::vector<Line> Counts() const;
  struct Histogram {
    std::array<int64_t, kBuckets.size()> cumulative{};  // count at or below each bound
    int64_t count = 0;
    double sum_seconds = 0;
  };
  Histogram Durations() const;

 private:
  static constexpr int kMethods = 3;  // GET, POST, other
  static constexpr int kStatuses = 600;
  std::array<std::atomic<int64_t>, kMethods * kStatuses> counts_{};
  std::array<std::atomic<int64_t>, kBuckets.size() + 1> buckets_{};  // the last is +Inf
  std::atomic<int64_t> sum_us_{0};
};

}  // namespace cmo::orchestrator::api_internal

#endif  // CMO_ORCHESTRATOR_API_INTERNAL_HTTP_STATS_H_
