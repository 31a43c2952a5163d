// The pieces of `cmo demo` that must be right for its story to mean anything: the compressed
// plan is the same plan with shorter holds (it still parses, keeps every step and gate), and
// the workload's users follow a power law with the super users on top.
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/plan_parser.h"
#include "orchestrator/demo/plan_compression.h"
#include "orchestrator/demo/workload.h"

namespace cmo::orchestrator {
namespace {

using ::testing::HasSubstr;

std::string SocialNetworkPlan() {
  std::ifstream in(CMO_SOURCE_DIR "/migrations/social-network.yaml");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PlanCompression, ShortensHoldsAndCountsAndKeepsThePlan) {
  const std::string original = SocialNetworkPlan();
  auto compressed = CompressPlan(original, {600, 50, 50});
  ASSERT_TRUE(compressed.ok()) << compressed.status();
  EXPECT_THAT(*compressed, HasSubstr("dual_write: {hold: 3s}"));      // 30m / 600
  EXPECT_THAT(*compressed, HasSubstr("hold: 72s"));                   // 12h / 600
  EXPECT_THAT(*compressed, HasSubstr("\"shadow_samples >= 200\""));   // 10000 / 50
  EXPECT_THAT(*compressed, HasSubstr("min_samples: 20"));             // 1000 / 50
  EXPECT_THAT(*compressed, HasSubstr("max_replication_lag_p99: 2s"))  // limits untouched
      << "only holds and counts change";
  EXPECT_THAT(*compressed, HasSubstr("# Social network"));  // comments kept
  const migrations::ParseResult before = migrations::ParsePlan(original);
  const migrations::ParseResult after = migrations::ParsePlan(*compressed);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after.plan.phases.size(), before.plan.phases.size());
  for (size_t p = 0; p < before.plan.phases.size(); ++p) {
    ASSERT_EQ(after.plan.phases[p].steps.size(), before.plan.phases[p].steps.size());
    for (size_t s = 0; s < before.plan.phases[p].steps.size(); ++s) {
      EXPECT_EQ(after.plan.phases[p].steps[s].gates.size(),
                before.plan.phases[p].steps[s].gates.size());
    }
  }
}

TEST(PlanCompression, NeverGoesBelowOneSecondOrOneSample) {
  auto c = CompressPlan("hold: 90s\nmin_samples: 3\n", {1000, 1000, 1000});
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(*c, HasSubstr("hold: 1s\nmin_samples: 1"));
}

TEST(Workload, UsersFollowAPowerLawWithTheSuperUsersOnTop) {
  const ZipfPicker users(10'000, 1.05);
  std::mt19937_64 rng(1);
  std::vector<int> hits(10'000);
  const int draws = 200'000;
  for (int i = 0; i < draws; ++i) ++hits[static_cast<size_t>(users.Pick(rng))];
  EXPECT_GT(hits[0], hits[1]);
  EXPECT_GT(hits[1], hits[10]);
  EXPECT_GT(hits[10], hits[1000]);
  // Rank 0 gets ~1/H(10000, 1.05) of the activity (~11%); the tail still gets some.
  EXPECT_NEAR(static_cast<double>(hits[0]) / draws, 0.11, 0.02);
  int tail = 0;
  for (int k = 5000; k < 10'000; ++k) tail += hits[static_cast<size_t>(k)];
  EXPECT_GT(tail, 0);
  EXPECT_EQ(UserName(0), "celebrity-1");
  EXPECT_EQ(UserName(2), "creator-99");
  EXPECT_EQ(UserName(3), "user-3");
  for (int rank : {0, 1, 2, 3, 42, 9999}) EXPECT_EQ(UserRank(UserName(rank)), rank);
  for (const char* other : {"user-1", "user-x", "someone", "user-"}) {
    EXPECT_EQ(UserRank(other), std::numeric_limits<int>::max()) << other;
  }
}

}  // namespace
}  // namespace cmo::orchestrator
