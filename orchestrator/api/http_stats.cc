#include "orchestrator/api/internal/http_stats.h"

namespace cmo::orchestrator::api_internal {
namespace {

constexpr std::string_view kMethodNames[] = {"GET", "POST", "other"};

int MethodIndex(std::string_view method) {
  if (method == "GET") return 0;
  if (method == "POST") return 1;
  return 2;
}

}  // namespace

void HttpStats::Count(std::string_view method, int status) {
  if (status < 0 || status >= kStatuses) status = 0;
  counts_[MethodIndex(method) * kStatuses + status].fetch_add(1, std::memory_order_relaxed);
}

void HttpStats::Observe(absl::Duration handler) {
  const double seconds = absl::ToDoubleSeconds(handler);
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  buckets_[b].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(absl::ToInt64Microseconds(handler), std::memory_order_relaxed);
}

std::vector<HttpStats::Line> HttpStats::Counts() const {
  std::vector<Line> out;
  for (int m = 0; m < kMethods; ++m) {
    for (int s = 0; s < kStatuses; ++s) {
      const int64_t n = counts_[m * kStatuses + s].load(std::memory_order_relaxed);
      if (n > 0) out.push_back({std::string(kMethodNames[m]), s, n});
    }
  }
  return out;
}

HttpStats::Histogram HttpStats::Durations() const {
  Histogram h;
  int64_t running = 0;
  for (size_t b = 0; b < kBuckets.size(); ++b) {
    running += buckets_[b].load(std::memory_order_relaxed);
    h.cumulative[b] = running;
  }
  h.count = running + buckets_[kBuckets.size()].load(std::memory_order_relaxed);
  h.sum_seconds = static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6;
  return h;
}

}  // namespace cmo::orchestrator::api_internal
