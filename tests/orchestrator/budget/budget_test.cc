// Consistency budgets and breakers: sliding windows, multi-window burn rules, the breaker
// state machine, and the controller applying transitions to flags (with audit and persistence).
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/plan_executor.h"
#include "migrations/plan_parser.h"
#include "migrations/plan_store.h"
#include "orchestrator/budget/budget_controller.h"
#include "orchestrator/budget/replication_lag.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"
#include "tests/status_matchers.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::IsOk;
using flags::BreakerState;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

SliCounts Counts(int64_t samples, int64_t lag, int64_t bad, int64_t reads = 0,
                 int64_t fallbacks = 0) {
  SliCounts c;
  c.samples = samples;
  c.lag = lag;
  c.bad = bad;
  c.reads_eventual = reads;
  c.fallbacks = fallbacks;
  c.windows = 1;
  return c;
}

migrations::Budget SmallBudget() {
  migrations::Budget b;
  b.min_samples = 100;
  b.max_divergence_ratio_ppm = 1000;   // 0.1%
  b.max_stale_read_ratio_ppm = 50000;  // 5%
  b.max_fallback_ratio_ppm = 100000;   // 10%
  return b;
}

TEST(SliWindowTest, SumsTheBucketsAWindowCoversAndForgetsOldOnes) {
  SliWindow w(absl::Seconds(1), absl::Seconds(60));
  w.Add(kT0 + absl::Seconds(1), Counts(10, 1, 0));
  w.Add(kT0 + absl::Seconds(30), Counts(20, 2, 1));
  w.Add(kT0 + absl::Seconds(59), Counts(30, 3, 0));
  EXPECT_EQ(w.Sum(kT0 + absl::Seconds(60), absl::Seconds(10)).samples, 30);
  EXPECT_EQ(w.Sum(kT0 + absl::Seconds(60), absl::Seconds(40)).samples, 50);
  EXPECT_EQ(w.Sum(kT0 + absl::Seconds(60), absl::Seconds(60)).samples, 60);
  EXPECT_EQ(w.SumSince(kT0 + absl::Seconds(30)).samples, 30) << "after the bucket of `since`";
  w.Prune(kT0 + absl::Seconds(100));
  EXPECT_EQ(w.Sum(kT0 + absl::Seconds(100), absl::Hours(1)).samples, 30);
}

TEST(BudgetEvalTest, FewBadSamplesUnderTheMinimumNeverBreach) {
  const BudgetStatus s = EvaluateBudget(SmallBudget(), Counts(20, 0, 20), Counts(20, 0, 20));
  EXPECT_FALSE(s.breach);
  EXPECT_FALSE(s.slis[1].enough_data);
  EXPECT_THAT(s.slis[1].trips_when, HasSubstr("needs >= 100 observations (has 20)"));
}

TEST(BudgetEvalTest, AFastBurnBreachesOnTheShortWindowAlone) {
  // 2% divergence = 20x the 0.1% budget; the long window is still clean overall.
  const BudgetStatus s = EvaluateBudget(SmallBudget(), Counts(1000, 0, 20), Counts(100000, 0, 20));
  EXPECT_TRUE(s.breach);
  EXPECT_THAT(s.reason, HasSubstr("divergence_ratio 2% over the short window"));
  EXPECT_THAT(s.reason, HasSubstr("fast burn 20x"));
}

TEST(BudgetEvalTest, ASlowBurnNeedsBothWindowsToAgree) {
  // 0.3% divergence: 3x the budget, below the fast threshold.
  const SliCounts burning = Counts(1000, 0, 3);
  EXPECT_FALSE(EvaluateBudget(SmallBudget(), burning, Counts(100000, 0, 3)).breach)
      << "the long window is healthy: a blip";
  const BudgetStatus both = EvaluateBudget(SmallBudget(), burning, Counts(100000, 0, 300));
  EXPECT_TRUE(both.breach);
  EXPECT_THAT(both.reason, HasSubstr("slow burn 3x"));
}

TEST(BudgetEvalTest, FallbacksAndViolationsCountAgainstEventualReads) {
  migrations::Budget b = SmallBudget();
  EXPECT_TRUE(EvaluateBudget(b, Counts(0, 0, 0, 1000, 500), Counts(0, 0, 0, 4000, 900)).breach);
  SliCounts v = Counts(0, 0, 0, 1000, 0);
  v.violations = 1;
  const BudgetStatus s = EvaluateBudget(b, v, v);
  EXPECT_TRUE(s.breach);
  EXPECT_THAT(s.reason, HasSubstr("session_violations 1"));
}

TEST(BreakerMachineTest, TripCooldownProbeAndRecover) {
  BreakerOptions o{absl::Seconds(30), absl::Minutes(10), absl::Seconds(10)};
  const BudgetStatus bad = EvaluateBudget(SmallBudget(), Counts(1000, 0, 50), Counts(1000, 0, 50));
  const BudgetStatus good = EvaluateBudget(SmallBudget(), Counts(1000, 0, 0), Counts(1000, 0, 0));
  const BudgetStatus none{};
  BreakerRecord r;
  r.op = "x";
  BreakerStep s = NextBreakerState(r, migrations::BreachAction::kRollback, bad, none, kT0, o);
  ASSERT_EQ(s.event, BreakerEvent::kTrip);
  EXPECT_EQ(s.next.state, BreakerState::kOpen);
  EXPECT_EQ(s.next.cooldown, absl::Seconds(30));
  r = s.next;
  EXPECT_EQ(NextBreakerState(r, {}, good, none, kT0 + absl::Seconds(29), o).event,
            BreakerEvent::kNone);
  s = NextBreakerState(r, {}, good, none, kT0 + absl::Seconds(30), o);
  ASSERT_EQ(s.event, BreakerEvent::kProbe);
  r = s.next;
  // A bad probe re-opens with twice the cooldown.
  s = NextBreakerState(r, {}, good, bad, kT0 + absl::Seconds(35), o);
  ASSERT_EQ(s.event, BreakerEvent::kReTrip);
  EXPECT_EQ(s.next.cooldown, absl::Seconds(60));
  r = s.next;
  r = NextBreakerState(r, {}, good, none, kT0 + absl::Seconds(95), o).next;
  ASSERT_EQ(r.state, BreakerState::kHalfOpen);
  EXPECT_EQ(NextBreakerState(r, {}, good, good, kT0 + absl::Seconds(100), o).event,
            BreakerEvent::kNone)
      << "probe_for not over yet";
  EXPECT_EQ(NextBreakerState(r, {}, good, none, kT0 + absl::Seconds(200), o).event,
            BreakerEvent::kNone)
      << "no evidence: stays half-open";
  s = NextBreakerState(r, {}, good, good, kT0 + absl::Seconds(105), o);
  ASSERT_EQ(s.event, BreakerEvent::kRecover);
  EXPECT_EQ(s.next.state, BreakerState::kClosed);
  EXPECT_EQ(s.next.trips, 0);
}

TEST(BreakerMachineTest, FreezeHoldsTheRoutingAndTripsOnce) {
  const BudgetStatus bad = EvaluateBudget(SmallBudget(), Counts(1000, 0, 50), Counts(1000, 0, 50));
  BreakerRecord r;
  r.op = "x";
  BreakerStep s = NextBreakerState(r, migrations::BreachAction::kFreeze, bad, {}, kT0, {});
  ASSERT_EQ(s.event, BreakerEvent::kFreeze);
  EXPECT_EQ(s.next.state, BreakerState::kClosed);
  EXPECT_TRUE(s.next.frozen);
  EXPECT_EQ(NextBreakerState(s.next, migrations::BreachAction::kFreeze, bad, {}, kT0, {}).event,
            BreakerEvent::kNone);
}

class BudgetControllerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    controller_.reset();
    plans_.reset();
    flags_.reset();
    auto flags = flags::FlagStore::Open(dir_.File("control.db"), clock_);
    ASSERT_THAT(flags, IsOk());
    flags_ = *std::move(flags);
    auto plans = migrations::PlanStore::Open(flags_->db());
    ASSERT_THAT(plans, IsOk());
    plans_ = *std::move(plans);
    BudgetControllerOptions o;
    o.short_window = absl::Seconds(10);
    o.long_window = absl::Seconds(60);
    o.breaker = {absl::Seconds(30), absl::Minutes(10), absl::Seconds(5)};
    auto c = BudgetController::Create(*flags_, *plans_, clock_, o);
    ASSERT_THAT(c, IsOk());
    controller_ = *std::move(c);
  }

  void AddRampedOp() {
    flags::Flag f;
    f.op = "comment.read";
    f.domain = "comments";
    f.target.model = flags::Model::kReadYourWrites;
    const flags::ChangeContext ctx{"t", "t", "add", false};
    ASSERT_THAT(flags_->Add(f, ctx), IsOk());
    ASSERT_THAT(flags_->Update("comment.read", ctx,
                               [](flags::Flag& fl) {
                                 fl.stage = flags::Stage::kRamp;
                                 fl.ramp_bp = 5000;
                                 fl.shadow_bp = 100;
                                 return absl::OkStatus();
                               }),
                IsOk());
  }

  // One client's window: `samples` comparisons of which `bad` diverged, 10x as many reads.
  void Telemetry(int64_t samples, int64_t bad, const std::string& op = "comment.read") {
    shadow::TelemetryWindow w;
    w.end = clock_.Now();
    shadow::OpWindow o;
    o.op = op;
    o.samples = samples;
    o.reads_eventual = samples * 10;
    o.classes[static_cast<size_t>(shadow::MismatchClass::kMatch)] = samples - bad;
    o.classes[static_cast<size_t>(shadow::MismatchClass::kDivergence)] = bad;
    w.ops.push_back(o);
    controller_->Ingest(w);
  }

  // A plan applied through an executor on this fixture's stores.
  struct AppliedPlan {
    std::unique_ptr<migrations::StoredMetrics> metrics;
    std::unique_ptr<migrations::PlanExecutor> executor;
  };
  // Applies `yaml` and ticks the executor `ticks` times (one step each).
  AppliedPlan ApplyPlan(const std::string& yaml, int ticks) {
    AppliedPlan p;
    migrations::ParseResult parsed = migrations::ParsePlan(yaml);
    EXPECT_TRUE(parsed.ok()) << (parsed.errors.empty() ? "" : parsed.errors[0].message);
    p.metrics = std::make_unique<migrations::StoredMetrics>(*plans_, clock_, absl::Minutes(1));
    p.executor = std::make_unique<migrations::PlanExecutor>(*flags_, *plans_, *p.metrics, clock_);
    EXPECT_THAT(
        p.executor->Apply(parsed.plan, "plan.yaml", yaml, {"t", "t", "plan.apply", false}, false),
        IsOk());
    for (int i = 0; i < ticks; ++i) {
      // Clients of every op report (steps toward eventual wait for live telemetry).
      for (const migrations::PlanOp& op : parsed.plan.ops) {
        EXPECT_THAT(
            plans_->SetMetric(op.op, migrations::Metric::kTelemetryWindows, 1, clock_.Now()),
            IsOk());
      }
      EXPECT_THAT(p.executor->Tick(), IsOk());
    }
    return p;
  }

  std::vector<Transition> Evaluate() {
    auto t = controller_->Evaluate();
    EXPECT_THAT(t, IsOk());
    return t.ok() ? *t : std::vector<Transition>{};
  }

  ::cmo::testing::TempDir dir_;
  ::cmo::testing::FakeClock clock_;
  std::unique_ptr<flags::FlagStore> flags_;
  std::unique_ptr<migrations::PlanStore> plans_;
  std::unique_ptr<BudgetController> controller_;
};

TEST_F(BudgetControllerTest, AHealthyOpNeverTrips) {
  AddRampedOp();
  for (int i = 0; i < 600; ++i) {  // 2.5 minutes of 250 ms windows from one client
    clock_.Advance(absl::Milliseconds(250));
    Telemetry(300, i % 50 == 0 ? 1 : 0);  // a rare divergence stays within 0.1%
    EXPECT_TRUE(Evaluate().empty());
  }
  EXPECT_EQ(flags_->Get("comment.read")->breaker, BreakerState::kClosed);
  // The gates now see real telemetry.
  auto m = plans_->GetMetric("comment.read", migrations::Metric::kDivergenceRatio);
  ASSERT_THAT(m, IsOk());
  ASSERT_TRUE(m->has_value());
}

TEST_F(BudgetControllerTest, GatesOnSampleCountAndLagGetTheirMetrics) {
  AddRampedOp();
  controller_->SetReplicationLagP99(absl::Milliseconds(140));
  for (int i = 0; i < 8; ++i) {  // 2 s of 250 ms windows, 300 samples each
    clock_.Advance(absl::Milliseconds(250));
    Telemetry(300, 0);
    Evaluate();
  }
  auto samples = plans_->GetMetric("comment.read", migrations::Metric::kShadowSamples);
  ASSERT_THAT(samples, IsOk());
  ASSERT_TRUE(samples->has_value()) << "a `shadow_samples >= N` gate would never pass";
  EXPECT_EQ((*samples)->first, 8 * 300);
  auto lag = plans_->GetMetric("comment.read", migrations::Metric::kReplicationLagP99);
  ASSERT_THAT(lag, IsOk());
  ASSERT_TRUE(lag->has_value()) << "a `replication_lag_p99 < X` gate would never pass";
  EXPECT_EQ((*lag)->first, 140);
}

TEST_F(BudgetControllerTest, ALagReadingThatStopsIsNotKept) {
  AddRampedOp();
  controller_->SetReplicationLagP99(absl::Seconds(600));  // one stale figure...
  controller_->SetReplicationLagP99(std::nullopt);        // ...then no evidence
  for (int i = 0; i < 8; ++i) {
    clock_.Advance(absl::Milliseconds(250));
    Telemetry(300, 0);
    EXPECT_TRUE(Evaluate().empty());
  }
  EXPECT_EQ(flags_->Get("comment.read")->breaker, BreakerState::kClosed);
  auto lag = plans_->GetMetric("comment.read", migrations::Metric::kReplicationLagP99);
  ASSERT_THAT(lag, IsOk());
  EXPECT_FALSE(lag->has_value());
}

shadow::ApplierMetrics Applied(int64_t samples, double p99_ms, std::optional<absl::Time> proof) {
  shadow::ApplierMetrics m;
  m.lag_samples = samples;
  m.lag_p99_ms = p99_ms;
  m.caught_up_to = proof;
  return m;
}

TEST(ReplicationLagTest, IdleWithHeartbeatsIsCaughtUpAndAnOutageGrows) {
  const absl::Duration gap = absl::Seconds(10);
  const absl::Time started = kT0 - absl::Hours(1);
  // Idle: no change in the window, the last heartbeat 4 s ago (they come every 10 s).
  EXPECT_EQ(ReplicationLagNow({Applied(0, 0, kT0 - absl::Seconds(4))}, kT0, started, gap),
            absl::ZeroDuration());
  // Traffic: the p99 of the window's changes.
  EXPECT_EQ(ReplicationLagNow({Applied(500, 80, kT0)}, kT0, started, gap), absl::Milliseconds(80));
  // Heartbeats stopped 70 s ago (broker, relay or replica down while idle): 60 s behind.
  EXPECT_EQ(ReplicationLagNow({Applied(0, 0, kT0 - absl::Seconds(70))}, kT0, started, gap),
            absl::Seconds(60));
  // The worst region counts.
  EXPECT_EQ(ReplicationLagNow({Applied(500, 80, kT0), Applied(0, 0, kT0 - absl::Seconds(30))}, kT0,
                              started, gap),
            absl::Seconds(20));
}

TEST(ReplicationLagTest, NothingProvedYetIsNoDataThenBehindSinceStart) {
  const absl::Duration gap = absl::Seconds(10);
  EXPECT_EQ(ReplicationLagNow({Applied(0, 0, std::nullopt)}, kT0, kT0 - absl::Seconds(3), gap),
            std::nullopt);
  EXPECT_EQ(ReplicationLagNow({}, kT0, kT0 - absl::Hours(1), gap), std::nullopt);
  EXPECT_EQ(ReplicationLagNow({Applied(0, 0, std::nullopt)}, kT0, kT0 - absl::Seconds(45), gap),
            absl::Seconds(35));
}

TEST_F(BudgetControllerTest, ABurstTripsTheBreakerWithTheMeasuredValuesInTheAudit) {
  AddRampedOp();
  for (int i = 0; i < 8; ++i) {
    clock_.Advance(absl::Milliseconds(250));
    Telemetry(300, 0);
    EXPECT_TRUE(Evaluate().empty());
  }
  clock_.Advance(absl::Milliseconds(250));
  Telemetry(300, 60);  // a divergence burst: 20% of one window
  std::vector<Transition> t = Evaluate();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].event, BreakerEvent::kTrip);
  const flags::Flag f = *flags_->Get("comment.read");
  EXPECT_EQ(f.breaker, BreakerState::kOpen);
  EXPECT_EQ(flags::EffectiveEventualBp(f), 0) << "every read back on the strong path";
  auto history = flags_->History("comment.read", 1);
  ASSERT_THAT(history, IsOk());
  EXPECT_EQ(history->at(0).action, "breaker_open");
  EXPECT_EQ(history->at(0).actor, "breaker");
  EXPECT_THAT(history->at(0).reason, HasSubstr("divergence_ratio"));
  EXPECT_THAT(history->at(0).reason, HasSubstr("observations"));
}

TEST_F(BudgetControllerTest, StateAndCooldownSurviveARestartThenProbeAndClose) {
  AddRampedOp();
  clock_.Advance(absl::Milliseconds(250));
  Telemetry(1000, 200);
  ASSERT_EQ(Evaluate().size(), 1u);
  Open();  // the control service restarts: windows are gone, breakers are not
  auto r = controller_->breakers().Get("comment.read");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->state, BreakerState::kOpen);
  EXPECT_EQ(r->cooldown, absl::Seconds(30));
  clock_.Advance(absl::Seconds(20));
  EXPECT_TRUE(Evaluate().empty()) << "the cooldown runs from the trip, not the restart";
  clock_.Advance(absl::Seconds(10));
  std::vector<Transition> t = Evaluate();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].event, BreakerEvent::kProbe);
  EXPECT_EQ(flags_->Get("comment.read")->breaker, BreakerState::kHalfOpen);
  for (int i = 0; i < 24; ++i) {
    clock_.Advance(absl::Milliseconds(250));
    Telemetry(50, 0);
    t = Evaluate();
    if (!t.empty()) break;
  }
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].event, BreakerEvent::kRecover);
  EXPECT_EQ(flags_->Get("comment.read")->breaker, BreakerState::kClosed);
}

TEST_F(BudgetControllerTest, AnOperatorResetClosesTheBreakerAndIsAudited) {
  AddRampedOp();
  clock_.Advance(absl::Milliseconds(250));
  Telemetry(1000, 200);
  ASSERT_EQ(Evaluate().size(), 1u);
  auto t = controller_->Reset("comment.read", {"alice", "replica fixed", "breaker.reset", false});
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(flags_->Get("comment.read")->breaker, BreakerState::kClosed);
  EXPECT_EQ(flags_->History("comment.read", 1)->at(0).actor, "alice");
  EXPECT_EQ(controller_->breakers().Get("comment.read")->trips, 0);
}

TEST_F(BudgetControllerTest, AFreezeBudgetHoldsTheRoutingAndPausesThePlan) {
  constexpr char kPlan[] = R"(
version: 1
name: careful
budgets:
  - {name: careful, max_divergence_ratio: 0.01%, min_samples: 100, on_breach: freeze}
operations:
  - {op: profile.read, kind: read, domain: profiles, target: read_your_writes, budget: careful}
phases:
  - name: profiles
    ops: [profile.read]
    steps:
      - dual_write
      - shadow: {sample: 5%}
      - ramp: {to: 10%}
)";
  AppliedPlan plan = ApplyPlan(kPlan, 3);  // dual_write, shadow, ramp
  migrations::PlanExecutor& executor = *plan.executor;
  ASSERT_EQ(flags_->Get("profile.read")->stage, flags::Stage::kRamp);
  std::vector<std::string> frozen;
  BudgetControllerOptions o;
  o.short_window = absl::Seconds(10);
  auto c = BudgetController::Create(
      *flags_, *plans_, clock_, o, [&](const std::string& op, const std::string& reason) {
        frozen.push_back(op);
        return executor.SetPaused(op, true, {"breaker", reason, "freeze", false}).status();
      });
  ASSERT_THAT(c, IsOk());
  shadow::TelemetryWindow w;
  clock_.Advance(absl::Seconds(1));
  w.end = clock_.Now();
  shadow::OpWindow ow;
  ow.op = "profile.read";
  ow.samples = 500;
  ow.classes[static_cast<size_t>(shadow::MismatchClass::kDivergence)] = 50;
  w.ops.push_back(ow);
  (*c)->Ingest(w);
  auto t = (*c)->Evaluate();
  ASSERT_THAT(t, IsOk());
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ(t->at(0).event, BreakerEvent::kFreeze);
  EXPECT_THAT(frozen, ::testing::ElementsAre("profile.read"));
  const flags::Flag f = *flags_->Get("profile.read");
  EXPECT_EQ(f.breaker, BreakerState::kClosed) << "freeze keeps the routing as it is";
  EXPECT_EQ(f.stage, flags::Stage::kRamp);
  auto progress = plans_->Progress("profile.read");
  ASSERT_THAT(progress, IsOk());
  EXPECT_TRUE((*progress)->paused);
  EXPECT_EQ(flags_->History("profile.read", 5)->at(1).action, "freeze")
      << "audited before the plan's pause entry";
  // An operator clears the freeze: audited too, though the flag itself does not change.
  ASSERT_THAT((*c)->Reset("profile.read", {"alice", "checked", "breaker.reset", false}), IsOk());
  EXPECT_FALSE((*c)->breakers().Get("profile.read")->frozen);
  EXPECT_EQ(flags_->History("profile.read", 1)->at(0).actor, "alice");
}

// Writes are never shadow-read: a write op is judged by the reads of its domain, so a plan
// step gated on `shadow_samples` or `divergence_ratio` can pass for it, and its breaker trips
// when what it writes diverges.
TEST_F(BudgetControllerTest, AWriteOpIsJudgedByTheReadsOfItsDomain) {
  constexpr char kPlan[] = R"(
version: 1
name: likes
budgets:
  - {name: likes, max_divergence_ratio: 0.1%, min_samples: 100}
operations:
  - {op: post.like, kind: write, domain: likes, target: eventual, budget: likes}
  - {op: like.count, kind: read, domain: likes, target: eventual, budget: likes}
  - {op: feed.read, kind: read, domain: feeds, target: eventual, budget: likes}
phases:
  - name: likes
    ops: [post.like, like.count, feed.read]
    steps:
      - dual_write
      - shadow: {sample: 5%, gates: ["shadow_samples >= 1000"]}
      - eventual
)";
  AppliedPlan plan = ApplyPlan(kPlan, 2);  // dual_write, shadow
  migrations::PlanExecutor& executor = *plan.executor;
  ASSERT_EQ(flags_->Get("post.like")->stage, flags::Stage::kShadow);
  auto window = [&](const std::string& op, int64_t samples, int64_t bad) {
    clock_.Advance(absl::Milliseconds(250));
    Telemetry(samples, bad, op);
  };
  for (int i = 0; i < 4; ++i) {
    window("like.count", 300, 0);
    window("feed.read", 7, 0);  // another domain: not evidence about likes
    EXPECT_TRUE(Evaluate().empty());
  }
  auto samples = plans_->GetMetric("post.like", migrations::Metric::kShadowSamples);
  ASSERT_THAT(samples, IsOk());
  ASSERT_TRUE(samples->has_value()) << "the write op's shadow gate could never pass";
  EXPECT_EQ((*samples)->first, 4 * 300);
  EXPECT_TRUE(plans_->GetMetric("post.like", migrations::Metric::kDivergenceRatio)->has_value());
  ASSERT_THAT(executor.Tick(), IsOk());
  EXPECT_EQ(flags_->Get("post.like")->stage, flags::Stage::kEventual) << "its gate passed";
  // The likes domain diverges: the reader and the writer both trip.
  window("like.count", 300, 60);
  std::vector<std::string> tripped;
  for (const Transition& t : Evaluate()) {
    if (t.event == BreakerEvent::kTrip) tripped.push_back(t.op);
  }
  EXPECT_THAT(tripped, ::testing::UnorderedElementsAre("post.like", "like.count"));
}

// After a trip and a healthy probe, the op's plan resumes one step below the step that tripped
// (then climbs again through its gates), or waits for an operator when its phase says so.
class RecoveryTest : public BudgetControllerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(RecoveryTest, ThePlanStepsBackOrWaitsAsItsPhaseSays) {
  const bool wait = GetParam();
  const std::string plan_text = std::string(R"(
version: 1
name: likes
budgets:
  - {name: b, max_divergence_ratio: 0.01%, min_samples: 100}
operations:
  - {op: like.count, kind: read, domain: likes, target: eventual, budget: b}
phases:
  - name: likes
    ops: [like.count]
    steps:
      - dual_write
      - shadow: {sample: 5%}
      - ramp: {to: 10%}
      - ramp: {to: 50%}
    rollback: {after_recovery: )") +
                                (wait ? "wait" : "resume") + "}\n";
  AppliedPlan plan = ApplyPlan(plan_text, 4);
  migrations::PlanExecutor& executor = *plan.executor;
  ASSERT_EQ(flags_->Get("like.count")->ramp_bp, 5000);
  BudgetControllerOptions o;
  o.short_window = absl::Seconds(10);
  o.breaker = {absl::Seconds(30), absl::Minutes(10), absl::Seconds(5)};
  auto c = BudgetController::Create(
      *flags_, *plans_, clock_, o, nullptr,
      [&](const std::string& op) { return executor.AfterBreakerRecovery(op).status(); });
  ASSERT_THAT(c, IsOk());
  auto send = [&](int64_t samples, int64_t bad) {
    shadow::TelemetryWindow w;
    w.end = clock_.Now();
    shadow::OpWindow ow;
    ow.op = "like.count";
    ow.samples = samples;
    ow.classes[static_cast<size_t>(shadow::MismatchClass::kMatch)] = samples - bad;
    ow.classes[static_cast<size_t>(shadow::MismatchClass::kDivergence)] = bad;
    w.ops.push_back(ow);
    (*c)->Ingest(w);
  };
  clock_.Advance(absl::Seconds(1));
  send(500, 50);
  ASSERT_EQ((*c)->Evaluate()->size(), 1u);  // trip
  ASSERT_THAT(executor.Tick(), IsOk());
  EXPECT_EQ(flags_->Get("like.count")->ramp_bp, 5000) << "the plan holds while tripped";
  clock_.Advance(absl::Seconds(30));
  ASSERT_EQ((*c)->Evaluate()->at(0).event, BreakerEvent::kProbe);
  std::vector<Transition> t;
  for (int i = 0; i < 40 && t.empty(); ++i) {
    clock_.Advance(absl::Milliseconds(250));
    send(100, 0);
    t = *(*c)->Evaluate();
  }
  ASSERT_EQ(t.size(), 1u);
  ASSERT_EQ(t[0].event, BreakerEvent::kRecover);
  auto progress = plans_->Progress("like.count");
  ASSERT_THAT(progress, IsOk());
  if (wait) {
    EXPECT_TRUE((*progress)->paused);
    EXPECT_THAT((*progress)->pause_reason, HasSubstr("waits for an operator"));
    EXPECT_EQ(flags_->Get("like.count")->ramp_bp, 5000);
  } else {
    EXPECT_FALSE((*progress)->paused);
    EXPECT_EQ((*progress)->step, 2) << "back to the step before the one that tripped";
    EXPECT_EQ(flags_->Get("like.count")->ramp_bp, 1000);
  }
}

INSTANTIATE_TEST_SUITE_P(AfterRecovery, RecoveryTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "wait" : "resume"; });

}  // namespace
}  // namespace cmo::orchestrator
