// `cmo breakers`, `cmo budget OP` and `cmo breaker reset OP` through the real binary, on a state
// dir where the budget controller (as `cmo serve` runs it) has just tripped an op's breaker.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/plan_store.h"
#include "orchestrator/budget/budget_controller.h"
#include "tests/fakes/cmo_cli.h"
#include "tests/status_matchers.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::IsOk;
using ::testing::HasSubstr;

class BreakerCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cli_.Ok({"ops", "add", "post.like", "--domain", "likes", "--target", "eventual"});
    cli_.Ok({"advance", "post.like", "--reason", "dual-write on"});
    cli_.Ok({"advance", "post.like", "--sample", "5%", "--reason", "shadow"});
    cli_.Ok({"advance", "post.like", "--to", "10%", "--reason", "ramp", "--confirm"});
  }

  // What `cmo serve` does when clients report a divergence burst for post.like.
  void Trip() { Report(2000, 100, /*tripped=*/1); }

  // One evaluation after a client's window of `samples` comparisons, `bad` of them diverged.
  void Report(int64_t samples, int64_t bad, size_t tripped) {
    auto flags = flags::FlagStore::Open(cli_.StateDir() + "/control.db", base::SystemClock());
    ASSERT_THAT(flags, IsOk());
    auto plans = migrations::PlanStore::Open((*flags)->db());
    ASSERT_THAT(plans, IsOk());
    auto c = BudgetController::Create(**flags, **plans, base::SystemClock());
    ASSERT_THAT(c, IsOk());
    shadow::TelemetryWindow w;
    w.end = absl::Now();
    shadow::OpWindow o;
    o.op = "post.like";
    o.samples = samples;
    o.reads_eventual = samples * 10;
    o.classes[static_cast<size_t>(shadow::MismatchClass::kMatch)] = samples - bad;
    o.classes[static_cast<size_t>(shadow::MismatchClass::kDivergence)] = bad;
    w.ops.push_back(o);
    (*c)->Ingest(w);
    auto t = (*c)->Evaluate();
    ASSERT_THAT(t, IsOk());
    ASSERT_EQ(t->size(), tripped);
  }

  ::cmo::testing::CmoCli cli_;
};

TEST_F(BreakerCliTest, ListShowsTheTripAndBudgetExplainsIt) {
  Trip();
  nlohmann::json list = cli_.Json({"breakers"});
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["breaker"], "open");
  EXPECT_EQ(list[0]["trips"], 1);
  EXPECT_THAT(list[0]["reason"].get<std::string>(), HasSubstr("divergence_ratio 5%"));
  EXPECT_THAT(cli_.Ok({"breakers"}), HasSubstr("open"));

  nlohmann::json budget = cli_.Json({"budget", "post.like"});
  EXPECT_EQ(budget["breach"], true);
  EXPECT_EQ(budget["budget"], "default");
  bool found = false;
  for (const auto& s : budget["slis"]) {
    if (s["name"] != "divergence_ratio") continue;
    found = true;
    EXPECT_EQ(s["short"].get<double>(), 50000);  // 5% in ppm
    EXPECT_EQ(s["observations"], 2000);
  }
  EXPECT_TRUE(found);
  const std::string table = cli_.Ok({"budget", "post.like"});
  EXPECT_THAT(table, HasSubstr("BREACH: divergence_ratio 5%"));
  EXPECT_THAT(table, HasSubstr("trips when"));

  // The routing follows: every subject is strong while the breaker is open.
  EXPECT_THAT(cli_.Ok({"decide", "post.like", "user-1"}), HasSubstr("breaker open"));
}

// Ten comparisons are no evidence (min_samples 1000): no value may pass for health.
TEST_F(BreakerCliTest, BudgetWithTooFewSamplesSaysNoData) {
  Report(10, 0, /*tripped=*/0);
  const std::string table = cli_.Ok({"budget", "post.like"});
  EXPECT_THAT(table, ::testing::ContainsRegex("divergence_ratio +no data +no data"));
  EXPECT_THAT(table, HasSubstr("no data: nothing measured with enough samples yet"));
  EXPECT_THAT(table, ::testing::Not(HasSubstr("within budget")));
}

TEST_F(BreakerCliTest, ResetClosesTheBreakerAndIsAudited) {
  Trip();
  ::cmo::testing::RunResult no_reason = cli_.Run({"breaker", "reset", "post.like"});
  EXPECT_EQ(no_reason.exit_code, 2);
  EXPECT_THAT(no_reason.err, HasSubstr("--reason"));
  EXPECT_THAT(cli_.Ok({"breaker", "reset", "post.like", "--reason", "replica rebuilt"}),
              HasSubstr("breaker closed"));
  EXPECT_EQ(cli_.Json({"breakers"})[0]["breaker"], "closed");
  nlohmann::json history = cli_.Json({"history", "post.like", "--limit", "2"});
  ASSERT_TRUE(history.is_array());
  EXPECT_EQ(history[0]["action"], "breaker_closed");
  EXPECT_EQ(history[0]["actor"], "alice");
  EXPECT_EQ(history[1]["action"], "breaker_open");
  EXPECT_EQ(history[1]["actor"], "breaker");
  EXPECT_EQ(cli_.Run({"breaker", "reset", "no.such", "--reason", "x"}).exit_code, 2);
}

TEST_F(BreakerCliTest, BudgetBeforeAnyEvaluationSaysWhy) {
  ::cmo::testing::RunResult r = cli_.Run({"budget", "post.like"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no budget evaluation for post.like yet"));
  EXPECT_EQ(cli_.Run({"budget", "no.such"}).exit_code, 2);
}

}  // namespace
}  // namespace cmo::orchestrator
