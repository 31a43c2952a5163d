#include "shadow/internal/connection_pool.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace cmo::shadow::internal {
namespace {

std::atomic<int> live{0};

// Stands in for a store connection: counts instances, and notices two users at once.
struct Conn {
  Conn() { ++live; }
  ~Conn() { --live; }
  std::atomic<bool> busy{false};
  int uses = 0;
};

struct Opens {
  std::atomic<int> n{0};
  ConnectionPool<Conn>::Factory Factory() {
    return [this]() -> absl::StatusOr<std::unique_ptr<Conn>> {
      ++n;
      return std::make_unique<Conn>();
    };
  }
};

TEST(ConnectionPool, WithReusesAnIdleConnectionAndPassesTheResultThrough) {
  Opens opens;
  {
    ConnectionPool<Conn> pool(opens.Factory());
    for (int i = 1; i <= 3; ++i) {
      absl::StatusOr<int> uses = pool.With([](Conn& c) -> absl::StatusOr<int> { return ++c.uses; });
      ASSERT_TRUE(uses.ok());
      EXPECT_EQ(*uses, i);  // the same connection each time
    }
    EXPECT_EQ(opens.n.load(), 1);
    EXPECT_EQ(live.load(), 1);  // kept idle for the next request
  }
  EXPECT_EQ(live.load(), 0);  // and closed with the pool
}

TEST(ConnectionPool, WithReportsWhyNoConnectionCouldBeOpened) {
  ConnectionPool<Conn> pool([]() -> absl::StatusOr<std::unique_ptr<Conn>> {
    return absl::UnavailableError("disk gone");
  });
  bool called = false;
  absl::StatusOr<int> r = pool.With([&](Conn&) -> absl::StatusOr<int> {
    called = true;
    return 1;
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(called);
}

TEST(ConnectionPool, AConnectionServesOneThreadAtATime) {
  Opens opens;
  std::atomic<int> overlaps{0};
  {
    ConnectionPool<Conn> pool(opens.Factory());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 2000; ++i) {
          auto use = [&](Conn& c) -> absl::StatusOr<int> {
            if (c.busy.exchange(true)) ++overlaps;
            ++c.uses;  // a data race here is what TSan would report
            c.busy.store(false);
            return 0;
          };
          // Both ways in: With (the read path) and Acquire (everything else).
          if ((i + t) % 2 == 0) {
            ASSERT_TRUE(pool.With(use).ok());
          } else {
            absl::StatusOr<ConnectionPool<Conn>::Lease> lease = pool.Acquire();
            ASSERT_TRUE(lease.ok());
            ASSERT_TRUE(use(**lease).ok());
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(live.load(), opens.n.load());  // fewer than kSlots: every one is kept
    EXPECT_GE(opens.n.load(), 1);
  }
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(live.load(), 0);
}

}  // namespace
}  // namespace cmo::shadow::internal
