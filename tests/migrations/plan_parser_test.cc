#include "migrations/plan_parser.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cmo::migrations {
namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PlanParser, ExamplePlansAreValid) {
  for (const char* name : {"social-network.yaml", "e-commerce.yaml"}) {
    ParseResult r =
        ParsePlan(ReadFile(std::filesystem::path(CMO_SOURCE_DIR) / "migrations" / name));
    for (const Diagnostic& d : r.errors) ADD_FAILURE() << FormatDiagnostic(name, d);
    EXPECT_TRUE(r.ok()) << name;
  }
}

TEST(PlanParser, SocialNetworkReadsAsDeclared) {
  ParseResult r = ParsePlan(
      ReadFile(std::filesystem::path(CMO_SOURCE_DIR) / "migrations" / "social-network.yaml"));
  ASSERT_TRUE(r.ok());
  const Plan& p = r.plan;
  EXPECT_EQ(p.name, "social-network");
  ASSERT_EQ(p.phases.size(), 3u);
  const Phase& feeds = p.phases[0];
  EXPECT_EQ(feeds.ops, (std::vector<std::string>{"feed.read", "post.like", "like.count"}));
  ASSERT_EQ(feeds.steps.size(), 6u);
  EXPECT_EQ(feeds.steps[1].stage, flags::Stage::kShadow);
  EXPECT_EQ(feeds.steps[1].sample_bp, 500);
  EXPECT_EQ(feeds.steps[1].hold, absl::Hours(2));
  ASSERT_EQ(feeds.steps[1].gates.size(), 2u);
  EXPECT_EQ(feeds.steps[1].gates[0].metric, Metric::kDivergenceRatio);
  EXPECT_EQ(feeds.steps[1].gates[0].value, 100);  // 0.01% in ppm
  EXPECT_EQ(feeds.steps[3].ramp_bp, 1000);
  EXPECT_TRUE(feeds.steps[4].gates[2].manual);
  EXPECT_TRUE(feeds.steps[5].gates.empty());
  EXPECT_EQ(feeds.RollbackWindow(), 2 * feeds.ExpectedDuration());
  const PlanOp* profile = p.FindOp("profile.read");
  ASSERT_NE(profile, nullptr);
  EXPECT_EQ(profile->target.model, flags::Model::kReadYourWrites);
  const Budget* b = p.BudgetFor(*profile);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name, "profiles");
  EXPECT_EQ(b->on_breach, BreachAction::kFreeze);
  const PlanOp* like = p.FindOp("post.like");
  ASSERT_NE(like, nullptr);
  EXPECT_EQ(p.BudgetFor(*like)->name, "standard");  // the class default
  ASSERT_EQ(p.tiers.size(), 1u);
  const Tier& super = p.tiers[0];
  EXPECT_EQ(super.subjects.size(), 3u);
  EXPECT_EQ(super.when.size(), 2u);
  EXPECT_EQ(super.top_k, 100);
  EXPECT_EQ(super.top_k_window, absl::Minutes(10));
  EXPECT_TRUE(super.priority);
  EXPECT_EQ(super.target, (flags::Target{flags::Model::kBoundedStaleness, absl::Seconds(1)}));
  const flags::Tier stored = ToFlagsTier(p, super);
  EXPECT_EQ(stored.ops, (std::vector<std::string>{"feed.read", "like.count", "comment.list"}));
  EXPECT_TRUE(flags::ValidateTier(stored).ok());
  EXPECT_TRUE(stored.priority);
  EXPECT_EQ(p.FindOp("payment.transfer")->op_class, flags::OpClass::kCritical);
}

// Each tests/migrations/testdata/invalid/NAME.yaml must produce exactly the errors in
// NAME.expected ("NAME.yaml:LINE:COL: message" lines), all of them, in order.
TEST(PlanParser, InvalidPlansReportExactlyTheExpectedErrors) {
  const std::filesystem::path dir =
      std::filesystem::path(CMO_SOURCE_DIR) / "tests/migrations/testdata/invalid";
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string name = entry.path().filename().string();
    ParseResult r = ParsePlan(ReadFile(entry.path()));
    std::string actual;
    for (const Diagnostic& d : r.errors) actual += FormatDiagnostic(name, d) + "\n";
    std::filesystem::path expected_path = entry.path();
    expected_path.replace_extension(".expected");
    EXPECT_FALSE(r.ok()) << name;
    EXPECT_EQ(actual, ReadFile(expected_path)) << name;
    ++cases;
  }
  EXPECT_GE(cases, 25);
}

TEST(PlanParser, OversizedInputIsRefusedBeforeParsing) {
  ParseResult r = ParsePlan(std::string(kMaxPlanBytes + 1, '#'));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, ::testing::HasSubstr("plans are limited to"));
}

TEST(PlanParser, DeepNestingIsAnErrorNotACrash) {
  ParseResult r = ParsePlan(std::string(100000, '[') + std::string(100000, ']'));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.errors[0].message, ::testing::HasSubstr("YAML syntax error"));
}

}  // namespace
}  // namespace cmo::migrations
