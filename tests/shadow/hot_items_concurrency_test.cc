// HotItems under concurrent use, as in a client: request threads check reads (Hot) while
// writes and the follower mark items and the background thread prunes. Run under
// ThreadSanitizer (label concurrency): no race, and every mark made before a check is seen.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shadow/hot_items.h"

namespace cmo::shadow {
namespace {

TEST(HotItemsConcurrency, ReadersMarkersAndThePrunerNeverRace) {
  HotItems hot;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  std::atomic<bool> stop{false};
  std::atomic<int> marked{0};
  std::atomic<int64_t> misses{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // a writer marking items that stay hot
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(hot.Mark("d", "k" + std::to_string(i), t0 + absl::Hours(1), t0));
      marked.store(i + 1, std::memory_order_release);
    }
  });
  threads.emplace_back([&] {  // the follower marking items that expire at once
    for (int i = 0; i < 2000 && !stop.load(); ++i) {
      hot.Mark("d", "short" + std::to_string(i), t0 + absl::Seconds(1), t0);
    }
  });
  threads.emplace_back([&] {  // the background thread
    while (!stop.load()) hot.Prune(t0 + absl::Seconds(2));
  });
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {  // request threads
      while (!stop.load()) {
        const int n = marked.load(std::memory_order_acquire);
        if (n > 0 && !hot.Hot("d", "k" + std::to_string(n - 1), t0 + absl::Seconds(2))) {
          ++misses;
        }
      }
    });
  }
  threads[0].join();
  stop.store(true);
  for (size_t i = 1; i < threads.size(); ++i) threads[i].join();
  EXPECT_EQ(misses.load(), 0);
  hot.Prune(t0 + absl::Seconds(2));
  EXPECT_EQ(hot.size(), 2000);
}

}  // namespace
}  // namespace cmo::shadow
