// The API's request counts and handler-duration histogram: bucket edges, and counting from
// several threads while /metrics reads (run under ThreadSanitizer: label concurrency).
#include "orchestrator/api/internal/http_stats.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace cmo::orchestrator::api_internal {
namespace {

TEST(HttpStats, BucketsAreUpperBoundsInclusive) {
  HttpStats s;
  s.Observe(absl::Microseconds(1000));  // exactly 0.001 s: in le="0.001"
  s.Observe(absl::Microseconds(1001));  // just above: in le="0.0025"
  s.Observe(absl::Seconds(3));          // above every bound: only +Inf
  const HttpStats::Histogram h = s.Durations();
  EXPECT_EQ(h.cumulative[0], 1);
  EXPECT_EQ(h.cumulative[1], 2);
  EXPECT_EQ(h.cumulative.back(), 2);
  EXPECT_EQ(h.count, 3);
  EXPECT_NEAR(h.sum_seconds, 3.002001, 1e-9);
}

TEST(HttpStats, CountsByMethodAndStatus) {
  HttpStats s;
  s.Count("GET", 200);
  s.Count("GET", 200);
  s.Count("POST", 403);
  s.Count("PUT", 405);
  s.Count("GET", 9999);  // out of range: kept, as status 0, rather than dropped
  std::vector<std::tuple<std::string, int, int64_t>> got;
  for (const HttpStats::Line& l : s.Counts()) got.emplace_back(l.method, l.status, l.count);
  const std::vector<std::tuple<std::string, int, int64_t>> want = {
      {"GET", 0, 1}, {"GET", 200, 2}, {"POST", 403, 1}, {"other", 405, 1}};
  EXPECT_EQ(got, want);
}

TEST(HttpStats, ConcurrentCountsAreAllKept) {
  HttpStats s;
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        s.Count("GET", 200);
        s.Observe(absl::Microseconds(i % 3000));
      }
    });
  }
  std::thread scraper([&] {
    for (int i = 0; i < 200; ++i) {
      const HttpStats::Histogram h = s.Durations();
      EXPECT_LE(h.cumulative.back(), h.count);
    }
  });
  for (auto& t : threads) t.join();
  scraper.join();
  ASSERT_EQ(s.Counts().size(), 1u);
  EXPECT_EQ(s.Counts()[0].count, kThreads * kEach);
  EXPECT_EQ(s.Durations().count, kThreads * kEach);
}

}  // namespace
}  // namespace cmo::orchestrator::api_internal
