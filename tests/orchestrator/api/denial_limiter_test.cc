#include "orchestrator/api/internal/denial_limiter.h"

#include <string>

#include "gtest/gtest.h"

namespace cmo::orchestrator::api_internal {
namespace {

TEST(DenialLimiter, LogsTheFirstOnesThenCountsTheRestIntoTheNextEntry) {
  DenialLimiter limiter(3, absl::Minutes(1));
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  int64_t unlogged = -1;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.Admit("10.0.0.1", t0, &unlogged));
    EXPECT_EQ(unlogged, 0);
  }
  for (int i = 0; i < 7; ++i)
    EXPECT_FALSE(limiter.Admit("10.0.0.1", t0 + absl::Seconds(i), &unlogged));
  EXPECT_TRUE(limiter.Admit("10.0.0.2", t0, &unlogged)) << "one address does not silence another";
  ASSERT_TRUE(limiter.Admit("10.0.0.1", t0 + absl::Minutes(1), &unlogged));
  EXPECT_EQ(unlogged, 7) << "the next period's first entry says how many went unlogged";
}

TEST(DenialLimiter, ManyAddressesShareOneAllowanceBeyondTheTable) {
  DenialLimiter limiter(1, absl::Minutes(1), 2);
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  int64_t unlogged = 0;
  EXPECT_TRUE(limiter.Admit("a", t0, &unlogged));
  EXPECT_TRUE(limiter.Admit("b", t0, &unlogged));
  EXPECT_TRUE(limiter.Admit("c", t0, &unlogged)) << "the shared allowance's first";
  EXPECT_FALSE(limiter.Admit("d", t0, &unlogged));
  EXPECT_FALSE(limiter.Admit("e", t0, &unlogged));
  // After the period, idle addresses are forgotten and new ones get their own allowance again.
  EXPECT_TRUE(limiter.Admit("f", t0 + absl::Minutes(2), &unlogged));
}

// 2,000 source addresses x 11 refusals once wrote 10,252 audit rows in 19 s: the global cap
// bounds all addresses together, and the next entry carries the count.
TEST(DenialLimiter, OneGlobalCapBoundsAllAddressesTogether) {
  DenialLimiter limiter(10, absl::Minutes(1), 1024, 60);
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  int logged = 0;
  int64_t unlogged = 0;
  for (int addr = 0; addr < 2000; ++addr) {
    for (int i = 0; i < 11; ++i) {
      logged +=
          limiter.Admit("127.0." + std::to_string(addr / 250) + "." + std::to_string(addr % 250),
                        t0 + absl::Milliseconds(addr * 10), &unlogged);
    }
  }
  EXPECT_EQ(logged, 60);
  EXPECT_EQ(limiter.total_unlogged(), 2000 * 11 - 60);
  ASSERT_TRUE(limiter.Admit("127.9.9.9", t0 + absl::Minutes(2), &unlogged));
  // Without the global cap 1,024 addresses x 10 + 10 shared would have been logged.
  EXPECT_GE(unlogged, 1024 * 10 + 10 - 60) << "the next entry says how many went unlogged";
}

}  // namespace
}  // namespace cmo::orchestrator::api_internal
