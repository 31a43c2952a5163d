// The leader lease under threads (ThreadSanitizer): two instances poll it from their own
// threads while others read who leads; one instance stalls long enough to lose the lease. At
// no sampled moment do both believe they lead, and the lease changes hands once the stalled
// one stopped renewing.
#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "orchestrator/service/leader_lease.h"
#include "tests/fakes/pg_server.h"

namespace cmo::orchestrator {
namespace {

TEST(LeaderLeaseConcurrencyTest, NeverTwoLeadersAndAStalledOneIsReplaced) {
  auto pg = ::cmo::testing::PgServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  ASSERT_TRUE((*pg)->CreateDatabase("control").ok());
  const LeaseOptions options{.ttl = absl::Milliseconds(800),
                             .renew_every = absl::Milliseconds(100)};
  auto a = LeaderLease::Open((*pg)->Uri("control"), "http://a", base::SystemClock(), options);
  auto b = LeaderLease::Open((*pg)->Uri("control"), "http://b", base::SystemClock(), options);
  ASSERT_TRUE(a.ok() && b.ok());
  std::atomic<bool> stop{false};
  std::atomic<bool> a_stalls{false};
  std::atomic<int> both{0}, a_led{0}, b_led{0};
  auto poller = [&](LeaderLease& lease, std::atomic<bool>* stall) {
    while (!stop.load()) {
      if (stall == nullptr || !stall->load()) (void)lease.Poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };
  std::thread pa(poller, std::ref(**a), &a_stalls);
  std::thread pb(poller, std::ref(**b), nullptr);
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const bool ha = (*a)->held(), hb = (*b)->held();
        const auto ta = (*a)->token();
        if (ha && hb) both.fetch_add(1);
        if (ha) a_led.fetch_add(1);
        if (hb) b_led.fetch_add(1);
        (void)ta;
      }
    });
  }
  // Whoever takes the lease first keeps it while it renews. Then a stops renewing: if it led,
  // b takes over once a's lease lapsed; if b led all along, b keeps it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const bool a_first = (*a)->held();
  a_stalls.store(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_TRUE((*b)->held()) << "b took over from a stalled a";
  EXPECT_FALSE((*a)->held()) << "a no longer counts itself leader";
  a_stalls.store(false);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE((*a)->held()) << "a, back, finds the lease taken";
  stop.store(true);
  pa.join();
  pb.join();
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(both.load(), 0) << "two instances believed they led at once";
  EXPECT_GT(b_led.load(), 0);
  if (a_first) {
    EXPECT_GT(a_led.load(), 0);
  }
}

}  // namespace
}  // namespace cmo::orchestrator
