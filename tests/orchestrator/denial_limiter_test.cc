#include "orchestrator/api/internal/denial_limiter.h"

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

}  // namespace
}  // namespace cmo::orchestrator::api_internal
