#include "migrations/plan_executor.h"

#include "flags/transitions.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/plan_parser.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"
#include "tests/status_matchers.h"

namespace cmo::migrations {
namespace {

using ::cmo::testing::IsOk;
using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kPlan[] = R"(
version: 1
name: fast
operations:
  - {op: post.like, kind: write, domain: likes, target: eventual}
  - {op: feed.read, kind: read, domain: feeds, target: eventual}
  - {op: pay, kind: write, domain: payments, class: critical, target: strong}
phases:
  - name: likes
    ops: [post.like]
    steps:
      - dual_write: {hold: 10m}
      - shadow: {sample: 5%, hold: 1h, gates: ["stale_read_ratio < 1%"]}
      - ramp: {to: 10%, hold: 30m, gates: [manual]}
      - eventual
  - name: feeds
    ops: [feed.read]
    steps:
      - dual_write
      - eventual
)";

class PlanExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto flags = flags::FlagStore::Open(dir_.File("control.db"), clock_);
    ASSERT_THAT(flags, IsOk());
    flags_ = *std::move(flags);
    auto plans = PlanStore::Open(flags_->db());
    ASSERT_THAT(plans, IsOk());
    plans_ = *std::move(plans);
    metrics_ = std::make_unique<StoredMetrics>(*plans_, clock_, absl::Minutes(1));
    executor_ = std::make_unique<PlanExecutor>(*flags_, *plans_, *metrics_, clock_);
  }

  absl::StatusOr<ApplyResult> Apply(const std::string& text, bool force = false) {
    ParseResult r = ParsePlan(text);
    EXPECT_TRUE(r.ok());
    return executor_->Apply(r.plan, "fast.yaml", text, {"tester", "test", "plan.apply", false},
                            force);
  }

  flags::Flag Flag(const std::string& op) { return *flags_->Get(op); }
  OpProgress Progress(const std::string& op) { return **plans_->Progress(op); }
  void Tick() { ASSERT_THAT(executor_->Tick(), IsOk()); }
  // A measurement of post.like, which comes with the telemetry windows it was computed from.
  void Measure(Metric m, int64_t v) {
    ASSERT_THAT(plans_->SetMetric("post.like", m, v, clock_.Now()), IsOk());
    Watched("post.like");
  }
  // Applies kPlan and lets post.like's gates hold until it reaches the ramp step.
  void WalkLikesToRamp() {
    ASSERT_THAT(Apply(kPlan), IsOk());
    Tick();
    clock_.Advance(absl::Minutes(10));
    Tick();
    Measure(Metric::kStaleReadRatio, 100);
    Tick();
    clock_.Advance(absl::Hours(1));
    Measure(Metric::kStaleReadRatio, 100);
    Tick();
    ASSERT_EQ(Flag("post.like").stage, flags::Stage::kRamp);
  }
  // Some client of `op` reported telemetry just now.
  void Watched(const std::string& op) {
    ASSERT_THAT(plans_->SetMetric(op, Metric::kTelemetryWindows, 4, clock_.Now()), IsOk());
  }

  ::cmo::testing::TempDir dir_;
  ::cmo::testing::FakeClock clock_;
  std::unique_ptr<flags::FlagStore> flags_;
  std::unique_ptr<PlanStore> plans_;
  std::unique_ptr<StoredMetrics> metrics_;
  std::unique_ptr<PlanExecutor> executor_;
};

TEST_F(PlanExecutorTest, ApplyRegistersOpsAndIsIdempotent) {
  auto first = Apply(kPlan);
  ASSERT_THAT(first, IsOk());
  EXPECT_FALSE(first->unchanged);
  EXPECT_EQ(first->registered, (std::vector<std::string>{"post.like", "feed.read", "pay"}));
  EXPECT_EQ(Flag("pay").op_class, flags::OpClass::kCritical);
  const int64_t revision = *flags_->Revision();
  auto second = Apply(kPlan);
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE(second->unchanged);
  EXPECT_EQ(*flags_->Revision(), revision);  // nothing written, nothing audited
  EXPECT_EQ(Progress("post.like").step, -1);
  EXPECT_FALSE(plans_->Progress("pay")->has_value());  // critical: never in a phase
}

TEST_F(PlanExecutorTest, ApplyPutsThePlansTiersInTheFlagSnapshot) {
  std::string plan = kPlan;
  plan.replace(plan.find("operations:"), 0,
               "tiers:\n  - {name: vip, subjects: [u-1], when: [\"followers >= 10\"], "
               "target: causal}\n");
  plan.replace(plan.find("target: eventual}"), std::string("target: eventual}").size(),
               "target: eventual, tiers: [vip], amplify: {when: \"reach > 100\", window: 20s}}");
  ASSERT_THAT(Apply(plan), IsOk());
  ASSERT_EQ((*flags_->LoadSnapshot())->amplifiers().size(), 1u);
  EXPECT_EQ((*flags_->LoadSnapshot())->amplifiers()[0],
            (flags::Amplifier{"fast", "post.like", "reach > 100", absl::Seconds(20)}));
  EXPECT_EQ(flags_->History("plan:fast", 10)->size(), 3u);  // tiers, amplify, the plan
  auto snap = flags_->LoadSnapshot();
  ASSERT_THAT(snap, IsOk());
  ASSERT_EQ((*snap)->tiers().size(), 1u);
  EXPECT_EQ((*snap)->tiers()[0].plan, "fast");
  EXPECT_EQ((*snap)->tiers()[0].ops, (std::vector<std::string>{"post.like"}));
  const std::vector<flags::Attribute> fan = {{"followers", "12"}};
  EXPECT_EQ((*snap)->Route("post.like", "u-9", fan).tier_via, flags::TierVia::kRule);
  EXPECT_EQ((*snap)->Route("post.like", "u-1").tier_via, flags::TierVia::kList);
  EXPECT_EQ((*snap)->Route("feed.read", "u-1").tier, nullptr);
  // Re-applied without the tier: it is gone from the snapshot.
  ASSERT_THAT(Apply(kPlan), IsOk());
  EXPECT_TRUE((*flags_->LoadSnapshot())->tiers().empty());
  EXPECT_TRUE((*flags_->LoadSnapshot())->amplifiers().empty());
}

TEST_F(PlanExecutorTest, WalksTheStepsOnlyWhenGatesHoldForTheHold) {
  ASSERT_THAT(Apply(kPlan), IsOk());
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kDualWrite);
  EXPECT_EQ(Flag("feed.read").stage, flags::Stage::kStrong);  // its phase waits for "likes"
  clock_.Advance(absl::Minutes(9));
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kDualWrite);  // hold not over
  clock_.Advance(absl::Minutes(1));
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kShadow);
  EXPECT_EQ(Flag("post.like").shadow_bp, 500);

  // Shadow: no data -> the gate does not hold, however long we wait.
  clock_.Advance(absl::Hours(2));
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kShadow);
  Measure(Metric::kStaleReadRatio, 500);  // 0.05%
  Tick();
  EXPECT_EQ(Progress("post.like").held_since, clock_.Now());
  clock_.Advance(absl::Minutes(30));
  Measure(Metric::kStaleReadRatio, 20000);  // 2%: breaks the hold
  Tick();
  EXPECT_FALSE(Progress("post.like").held_since.has_value());
  Measure(Metric::kStaleReadRatio, 100);
  Tick();
  clock_.Advance(absl::Minutes(59));
  Measure(Metric::kStaleReadRatio, 100);
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kShadow);  // the clock restarted at the flap
  clock_.Advance(absl::Minutes(1));
  Measure(Metric::kStaleReadRatio, 100);
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kRamp);
  EXPECT_EQ(Flag("post.like").ramp_bp, 1000);

  // Ramp has a manual gate: nothing happens until an operator approves.
  clock_.Advance(absl::Hours(5));
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kRamp);
  auto approved = executor_->Approve("post.like", {"alice", "looks good", "", false});
  ASSERT_THAT(approved, IsOk());
  EXPECT_THAT(*approved, HasSubstr("approved step 3"));
  Tick();
  clock_.Advance(absl::Minutes(30));
  Watched("post.like");
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kEventual);

  // The next phase starts only now.
  Tick();
  EXPECT_EQ(Flag("feed.read").stage, flags::Stage::kDualWrite);
  Watched("feed.read");
  Tick();
  EXPECT_EQ(Flag("feed.read").stage, flags::Stage::kEventual);

  auto history = flags_->History(std::string_view("post.like"), 100);
  ASSERT_THAT(history, IsOk());
  EXPECT_EQ((*history)[0].actor, "plan:fast");
  EXPECT_EQ((*history)[0].action, "plan.step");
  EXPECT_THAT((*history)[0].reason, HasSubstr("phase likes step 4/4: eventual"));
}

// No evidence is not health: a plan whose gates were all removed must still not carry an op
// toward eventual while no client of it reports telemetry.
TEST_F(PlanExecutorTest, AStepTowardEventualWaitsForLiveTelemetry) {
  WalkLikesToRamp();
  ASSERT_THAT(executor_->Approve("post.like", {"alice", "ok", "", false}), IsOk());
  Tick();
  clock_.Advance(absl::Hours(2));  // the hold is long over, but nobody has reported since
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kRamp);
  auto status = executor_->Status();
  ASSERT_THAT(status, IsOk());
  EXPECT_THAT((*status)[0].state, HasSubstr("waiting for live telemetry"));
  Watched("post.like");
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kEventual);
}

TEST_F(PlanExecutorTest, APlanMayGoOnUnwatchedOnlyByWritingItDown) {
  constexpr char kUnwatched[] = R"(
version: 1
name: fast
operations:
  - {op: feed.read, kind: read, domain: feeds, target: eventual}
phases:
  - name: feeds
    ops: [feed.read]
    require_telemetry: false
    steps:
      - dual_write
      - eventual
)";
  ASSERT_THAT(Apply(kUnwatched), IsOk());
  Tick();
  Tick();
  EXPECT_EQ(Flag("feed.read").stage, flags::Stage::kEventual);
  ParseResult bad =
      ParsePlan(std::string(kUnwatched).replace(std::string(kUnwatched).find("false"), 5, "maybe"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.errors[0].message, HasSubstr("require_telemetry"));
}

TEST_F(PlanExecutorTest, GatesWithoutDataAreInconclusiveNotFailed) {
  ASSERT_THAT(Apply(kPlan), IsOk());
  Tick();
  clock_.Advance(absl::Minutes(10));
  Tick();
  ASSERT_EQ(Flag("post.like").stage, flags::Stage::kShadow);
  auto status = executor_->Status();
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ((*status)[0].gates[0].verdict, "inconclusive");
  EXPECT_THAT((*status)[0].state, HasSubstr("inconclusive"));
  Measure(Metric::kStaleReadRatio, 20000);  // 2% against < 1%
  status = executor_->Status();
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ((*status)[0].gates[0].verdict, "fail");
  EXPECT_THAT((*status)[0].state, HasSubstr("gates not met: stale_read_ratio < 1% (2%)"));
  Measure(Metric::kStaleReadRatio, 100);
  status = executor_->Status();
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ((*status)[0].gates[0].verdict, "pass");
}

// What operators are notified of (the `plan` webhook): gates that start to lack data or fail,
// once per change of verdicts, not every tick.
TEST_F(PlanExecutorTest, WaitingGatesAreReportedOncePerChange) {
  ASSERT_THAT(Apply(kPlan), IsOk());
  Tick();
  clock_.Advance(absl::Minutes(10));
  auto waits = [&] {
    auto events = executor_->Tick();
    EXPECT_THAT(events, IsOk());
    std::vector<std::string> out;
    for (const TickEvent& e : *events) {
      if (e.what.find(" waits: ") != std::string::npos) out.push_back(e.what);
    }
    return out;
  };
  EXPECT_TRUE(waits().empty());          // starts the shadow step
  std::vector<std::string> w = waits();  // whose gate has no data
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "phase likes step 2/4 waits: inconclusive (no fresh data with enough samples): "
            "stale_read_ratio < 1%");
  EXPECT_TRUE(waits().empty()) << "said again on the next tick";
  Measure(Metric::kStaleReadRatio, 20000);
  w = waits();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("gates not met: stale_read_ratio < 1% (2%)"));
  Measure(Metric::kStaleReadRatio, 30000);  // another value, the same verdict
  EXPECT_TRUE(waits().empty());
  Measure(Metric::kStaleReadRatio, 100);  // holds: nothing to say
  EXPECT_TRUE(waits().empty());
  Measure(Metric::kStaleReadRatio, 20000);  // fails again: said again
  EXPECT_EQ(waits().size(), 1u);
}

TEST_F(PlanExecutorTest, StaleMetricsDoNotHoldGates) {
  ASSERT_THAT(Apply(kPlan), IsOk());
  Tick();
  clock_.Advance(absl::Minutes(10));
  Tick();
  ASSERT_EQ(Flag("post.like").stage, flags::Stage::kShadow);
  Measure(Metric::kStaleReadRatio, 100);
  clock_.Advance(absl::Minutes(2));  // older than the 1 minute max age
  Tick();
  EXPECT_FALSE(Progress("post.like").held_since.has_value());
  auto status = executor_->Status();
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ((*status)[0].gates[0].measured, "no data");
}

TEST_F(PlanExecutorTest, PauseStopsAndResumeContinues) {
  ASSERT_THAT(Apply(kPlan), IsOk());
  Tick();
  ASSERT_THAT(executor_->SetPaused("post.like", true, {"alice", "investigating", "", false}),
              IsOk());
  clock_.Advance(absl::Hours(1));
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kDualWrite);
  ASSERT_THAT(executor_->SetPaused("", false, {"alice", "fixed", "", false}), IsOk());
  Tick();  // the hold starts again after a pause
  clock_.Advance(absl::Minutes(10));
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kShadow);
  EXPECT_THAT(executor_->SetPaused("nope", true, {"a", "r", "", false}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not driven by a plan")));
}

TEST_F(PlanExecutorTest, AFlagMovedByHandPausesTheOpAndResumeRealigns) {
  WalkLikesToRamp();
  // An operator rolls back by hand during an incident.
  ASSERT_THAT(flags_->Update("post.like", {"bob", "incident", "rollback", false},
                             [](flags::Flag& f) { return flags::RollbackTo(f, std::nullopt); }),
              IsOk());
  Tick();
  EXPECT_TRUE(Progress("post.like").paused);
  EXPECT_THAT(Progress("post.like").pause_reason, HasSubstr("flag changed outside the plan"));
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kShadow);  // the plan did not fight back
  ASSERT_THAT(executor_->SetPaused("post.like", false, {"bob", "over", "", false}), IsOk());
  EXPECT_EQ(Progress("post.like").step, 1);  // back at the shadow step
}

TEST_F(PlanExecutorTest, AnOpenBreakerFreezesTheOp) {
  ASSERT_THAT(Apply(kPlan), IsOk());
  Tick();
  ASSERT_THAT(flags_->Update("post.like", {"breaker", "trip", "breaker", false},
                             [](flags::Flag& f) {
                               f.breaker = flags::BreakerState::kOpen;
                               return absl::OkStatus();
                             }),
              IsOk());
  clock_.Advance(absl::Hours(1));
  Tick();
  EXPECT_EQ(Flag("post.like").stage, flags::Stage::kDualWrite);
  auto status = executor_->Status();
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ((*status)[0].state, "frozen: breaker open");
}

TEST_F(PlanExecutorTest, ChangingThePlanOfAMigratingOpNeedsForce) {
  ASSERT_THAT(Apply(kPlan), IsOk());
  Tick();  // post.like is now mid-migration
  std::string changed = kPlan;
  changed.replace(changed.find("ramp: {to: 10%"), 14, "ramp: {to: 20%");
  EXPECT_THAT(Apply(changed), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("post.like migrates while it is mid-migration")));
  EXPECT_EQ(Progress("post.like").step, 0);  // refused: nothing changed
  auto forced = Apply(changed, /*force=*/true);
  ASSERT_THAT(forced, IsOk());
  EXPECT_EQ(forced->replanned, (std::vector<std::string>{"post.like"}));
  EXPECT_EQ(Progress("post.like").step, 0);  // realigned to where its flag is
  auto history = flags_->History(std::string_view("plan:fast"), 10);
  ASSERT_THAT(history, IsOk());
  EXPECT_EQ((*history)[0].action, "plan.replace.forced");
}

TEST(AlignedStep, FindsTheLastStepAtOrBelowTheFlag) {
  ParseResult r = ParsePlan(kPlan);
  ASSERT_TRUE(r.ok());
  const Phase& likes = r.plan.phases[0];
  flags::Flag f;
  EXPECT_EQ(AlignedStep(likes, f), -1);
  f.stage = flags::Stage::kShadow;
  EXPECT_EQ(AlignedStep(likes, f), 1);
  f.stage = flags::Stage::kRamp;
  f.ramp_bp = 500;
  EXPECT_EQ(AlignedStep(likes, f), 1);  // below the 10% step
  f.ramp_bp = 1000;
  EXPECT_EQ(AlignedStep(likes, f), 2);
}

}  // namespace
}  // namespace cmo::migrations
