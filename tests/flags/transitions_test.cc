#include "flags/transitions.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace cmo::flags {
namespace {

using ::cmo::testing::IsOk;
using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

Flag StandardOp() {
  Flag f;
  f.op = "post.like";
  f.domain = "likes";
  f.salt = "likes";
  f.target.model = Model::kEventual;
  return f;
}

TEST(Advance, WalksEveryStageInOrder) {
  Flag f = StandardOp();
  ASSERT_THAT(Advance(f, {}), IsOk());
  EXPECT_EQ(f.stage, Stage::kDualWrite);
  ASSERT_THAT(Advance(f, {}), IsOk());
  EXPECT_EQ(f.stage, Stage::kShadow);
  EXPECT_EQ(f.shadow_bp, kDefaultShadowSampleBp);
  ASSERT_THAT(Advance(f, {}), IsOk());
  EXPECT_EQ(f.stage, Stage::kRamp);
  EXPECT_EQ(f.ramp_bp, kDefaultRampEntryBp);
  // From a partial ramp: the next standard percent each time, never straight to 100%.
  for (int32_t want : {500, 1000, 2500, 5000, 10000}) {
    ASSERT_THAT(Advance(f, {}), IsOk());
    EXPECT_EQ(f.stage, Stage::kRamp);
    EXPECT_EQ(f.ramp_bp, want);
  }
  ASSERT_THAT(Advance(f, {}), IsOk());
  EXPECT_EQ(f.stage, Stage::kEventual);
  EXPECT_EQ(EffectiveEventualBp(f), 10000);
  EXPECT_THAT(Advance(f, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("already eventual")));
}

TEST(StepLimit, TheNextStandardPercentOrTheConfiguredStep) {
  EXPECT_EQ(NextStandardBp(0), 100);
  EXPECT_EQ(NextStandardBp(100), 500);
  EXPECT_EQ(NextStandardBp(300), 500);
  EXPECT_EQ(NextStandardBp(1000), 2500);
  EXPECT_EQ(NextStandardBp(5000), 10000);
  EXPECT_EQ(NextStandardBp(10000), 10000);
  EXPECT_EQ(StepLimitBp(1000, std::nullopt), 2500);
  EXPECT_EQ(StepLimitBp(1000, 500), 1500);
  EXPECT_EQ(StepLimitBp(9000, 2000), 10000);
  Flag f = StandardOp();
  EXPECT_EQ(StagedEventualBp(f), 0);
  f.stage = Stage::kRamp;
  f.ramp_bp = 2500;
  f.breaker = BreakerState::kOpen;  // the share it returns to once the breaker closes
  EXPECT_EQ(StagedEventualBp(f), 2500);
  f.op_class = OpClass::kCritical;
  EXPECT_EQ(StagedEventualBp(f), 0);
}

TEST(Advance, FromAPartialRampTakesNoPercentOptions) {
  Flag f = StandardOp();
  f.stage = Stage::kRamp;
  f.ramp_bp = 1000;
  EXPECT_THAT(Advance(f, {.ramp_to_bp = 10000, .shadow_sample_bp = std::nullopt}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cmo ramp")));
  EXPECT_EQ(f.ramp_bp, 1000);
}

TEST(Advance, OptionsApplyOnlyToTheirStage) {
  Flag f = StandardOp();
  EXPECT_THAT(Advance(f, {.ramp_to_bp = 500, .shadow_sample_bp = std::nullopt}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--to applies only when advancing into ramp")));
  ASSERT_THAT(Advance(f, {}), IsOk());
  ASSERT_THAT(Advance(f, {.ramp_to_bp = std::nullopt, .shadow_sample_bp = 500}), IsOk());
  EXPECT_EQ(f.shadow_bp, 500);
  ASSERT_THAT(Advance(f, {.ramp_to_bp = 1000, .shadow_sample_bp = std::nullopt}), IsOk());
  EXPECT_EQ(f.ramp_bp, 1000);
}

TEST(Advance, CriticalOpsNeverMove) {
  Flag f = StandardOp();
  f.op_class = OpClass::kCritical;
  EXPECT_THAT(Advance(f, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("critical and stays strong")));
  EXPECT_THAT(RampTo(f, 100),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("critical and stays strong")));
}

TEST(RampTo, OnlyFromShadowOrRamp) {
  Flag f = StandardOp();
  EXPECT_THAT(RampTo(f, 100), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("run `cmo advance post.like` first")));
  f.stage = Stage::kShadow;
  ASSERT_THAT(RampTo(f, 100), IsOk());
  EXPECT_EQ(f.stage, Stage::kRamp);
  ASSERT_THAT(RampTo(f, 5000), IsOk());
  ASSERT_THAT(RampTo(f, 50), IsOk());  // lowering is allowed
  EXPECT_EQ(f.ramp_bp, 50);
  f.stage = Stage::kEventual;
  EXPECT_THAT(RampTo(f, 100),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("use rollback")));
}

TEST(RollbackTo, DefaultsAndRangeChecks) {
  Flag f = StandardOp();
  EXPECT_THAT(RollbackTo(f, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("already strong")));
  f.stage = Stage::kRamp;
  f.ramp_bp = 5000;
  ASSERT_THAT(RollbackTo(f, std::nullopt), IsOk());
  EXPECT_EQ(f.stage, Stage::kShadow);
  EXPECT_EQ(f.ramp_bp, 0);
  EXPECT_THAT(RollbackTo(f, Stage::kRamp),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rollback goes backwards")));
  ASSERT_THAT(RollbackTo(f, Stage::kStrong), IsOk());
  EXPECT_EQ(f.stage, Stage::kStrong);
  EXPECT_EQ(DefaultRollbackTarget(Stage::kDualWrite), Stage::kStrong);
  EXPECT_EQ(DefaultRollbackTarget(Stage::kEventual), Stage::kShadow);
}

TEST(EffectiveEventualBp, BreakerAndClassOverrideStage) {
  Flag f = StandardOp();
  f.stage = Stage::kRamp;
  f.ramp_bp = 5000;
  EXPECT_EQ(EffectiveEventualBp(f), 5000);
  f.breaker = BreakerState::kOpen;
  EXPECT_EQ(EffectiveEventualBp(f), 0);
  f.breaker = BreakerState::kHalfOpen;
  EXPECT_EQ(EffectiveEventualBp(f), f.probe_bp);
  f.breaker = BreakerState::kClosed;
  f.op_class = OpClass::kCritical;
  EXPECT_EQ(EffectiveEventualBp(f), 0);
}

TEST(ValidateFlag, CriticalMustTargetStrong) {
  Flag f = StandardOp();
  f.op_class = OpClass::kCritical;
  EXPECT_THAT(ValidateFlag(f), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("critical and must target strong")));
  f.target.model = Model::kStrong;
  EXPECT_THAT(ValidateFlag(f), IsOk());
}

TEST(ParseTarget, BoundedStalenessNeedsItsBound) {
  auto t = ParseTarget("bounded_staleness(2s)");
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->max_staleness, absl::Seconds(2));
  EXPECT_EQ(TargetName(*t), "bounded_staleness(2s)");
  EXPECT_THAT(ParseTarget("bounded_staleness:500ms"), IsOk());
  EXPECT_THAT(ParseTarget("bounded_staleness"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs its bound")));
  EXPECT_THAT(ParseTarget("linearizable"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected one of: strong")));
}

TEST(ValidateOpName, RejectsOddCharacters) {
  EXPECT_THAT(ValidateOpName("post.like"), IsOk());
  EXPECT_THAT(ValidateOpName("Post Like"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lowercase letters")));
  EXPECT_THAT(ValidateOpName(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 to 128")));
}

}  // namespace
}  // namespace cmo::flags
