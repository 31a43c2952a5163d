#include "flags/snapshot.h"

#include <memory>
#include <string>

#include "flags/bucketing.h"
#include "gtest/gtest.h"

namespace cmo::flags {
namespace {

Flag MakeFlag(std::string op, Stage stage, int32_t ramp_bp, int32_t shadow_bp = 0) {
  Flag f;
  f.op = std::move(op);
  f.domain = "likes";
  f.salt = "likes";
  f.target.model = Model::kEventual;
  f.stage = stage;
  f.ramp_bp = ramp_bp;
  f.shadow_bp = shadow_bp;
  return f;
}

TEST(Snapshot, RoutesByBucketAgainstThreshold) {
  Snapshot s(7, {MakeFlag("post.like", Stage::kRamp, 1000)});
  int eventual = 0;
  for (int i = 0; i < 10'000; ++i) {
    const std::string subject = "user-" + std::to_string(i);
    const Decision d = s.Route("post.like", subject);
    EXPECT_TRUE(d.known_op);
    EXPECT_EQ(d.bucket, Bucket("likes", subject));
    EXPECT_EQ(d.threshold_bp, 1000);
    EXPECT_EQ(d.path == Path::kEventual, d.bucket < 1000u);
    eventual += d.path == Path::kEventual;
  }
  EXPECT_NEAR(eventual, 1000, 150);
}

TEST(Snapshot, UnknownOpIsStrong) {
  Snapshot s(1, {MakeFlag("post.like", Stage::kEventual, 10000)});
  const Decision d = s.Route("feed.read", "user-1");
  EXPECT_FALSE(d.known_op);
  EXPECT_EQ(d.path, Path::kStrong);
}

TEST(Snapshot, StagesBeforeRampAreStrongAndEventualIsAll) {
  Snapshot s(1, {MakeFlag("a", Stage::kStrong, 0), MakeFlag("b", Stage::kDualWrite, 0),
                 MakeFlag("c", Stage::kShadow, 0, 10000), MakeFlag("d", Stage::kEventual, 10000)});
  for (int i = 0; i < 1000; ++i) {
    const std::string subject = "u" + std::to_string(i);
    EXPECT_EQ(s.Route("a", subject).path, Path::kStrong);
    EXPECT_EQ(s.Route("b", subject).path, Path::kStrong);
    EXPECT_EQ(s.Route("c", subject).path, Path::kStrong);
    EXPECT_EQ(s.Route("d", subject).path, Path::kEventual);
  }
}

TEST(Snapshot, OpenBreakerForcesStrong) {
  Flag f = MakeFlag("post.like", Stage::kEventual, 10000);
  f.breaker = BreakerState::kOpen;
  Snapshot s(1, {f});
  EXPECT_EQ(s.Route("post.like", "user-1").path, Path::kStrong);
  EXPECT_EQ(s.Route("post.like", "user-1").threshold_bp, 0);
}

TEST(Snapshot, ShadowSamplingFollowsTheDrawOnlyInShadowAndRamp) {
  Snapshot s(1, {MakeFlag("shadowed", Stage::kShadow, 0, 500),
                 MakeFlag("final", Stage::kEventual, 10000, 500)});
  EXPECT_TRUE(s.Decide("shadowed", "u", 499).shadow_sampled);
  EXPECT_FALSE(s.Decide("shadowed", "u", 500).shadow_sampled);
  EXPECT_FALSE(s.Decide("final", "u", 0).shadow_sampled);
}

TEST(FlagEvaluator, SamplesAtTheConfiguredRate) {
  FlagEvaluator ev(std::make_shared<Snapshot>(
                       1, std::vector<Flag>{MakeFlag("post.like", Stage::kShadow, 0, 500)}),
                   /*seed=*/42);
  int sampled = 0;
  constexpr int kReads = 200'000;
  for (int i = 0; i < kReads; ++i) sampled += ev.Decide("post.like", "user-1").shadow_sampled;
  // 5% of 200k = 10k; binomial sd ~ 97.
  EXPECT_NEAR(sampled, 10'000, 500);
}

TEST(FlagEvaluator, SeesInstalledSnapshots) {
  FlagEvaluator ev(
      std::make_shared<Snapshot>(1, std::vector<Flag>{MakeFlag("post.like", Stage::kRamp, 0)}));
  EXPECT_EQ(ev.Decide("post.like", "user-1").path, Path::kStrong);
  ev.Install(std::make_shared<Snapshot>(
      2, std::vector<Flag>{MakeFlag("post.like", Stage::kEventual, 10000)}));
  EXPECT_EQ(ev.Decide("post.like", "user-1").path, Path::kEventual);
  EXPECT_EQ(ev.Current()->revision(), 2);
}

TEST(FlagEvaluator, AMemoAnswersLikeTheNameUntilTheSnapshotChanges) {
  FlagEvaluator ev(
      std::make_shared<Snapshot>(1, std::vector<Flag>{MakeFlag("post.like", Stage::kRamp, 0)}));
  OpMemo memo, unknown;
  EXPECT_EQ(ev.Decide("post.like", "user-1", memo).path, Path::kStrong);
  const uint64_t first = memo.snapshot_uid;
  EXPECT_NE(first, 0u);
  EXPECT_FALSE(ev.Decide("post.share", "user-1", unknown).known_op);
  // A new snapshot (the op ramped, and a new op registered): both memos are refreshed.
  ev.Install(std::make_shared<Snapshot>(
      2, std::vector<Flag>{MakeFlag("post.like", Stage::kEventual, 10000),
                           MakeFlag("post.share", Stage::kEventual, 10000)}));
  const Decision d = ev.Decide("post.like", "user-1", memo);
  EXPECT_EQ(d.path, Path::kEventual);
  EXPECT_EQ(d.stage, Stage::kEventual);
  EXPECT_NE(memo.snapshot_uid, first);
  EXPECT_TRUE(ev.Decide("post.share", "user-1", unknown).known_op);
  // And a memo decides exactly as the op's name does.
  for (int i = 0; i < 200; ++i) {
    const std::string subject = "user-" + std::to_string(i);
    const Decision by_name = ev.Decide("post.like", subject);
    const Decision by_memo = ev.Decide("post.like", subject, memo);
    EXPECT_EQ(by_memo.bucket, by_name.bucket);
    EXPECT_EQ(by_memo.path, by_name.path);
    EXPECT_EQ(by_memo.flag, by_name.flag);
  }
}

TEST(FlagEvaluator, SeveralEvaluatorsOnOneThreadStayApart) {
  // More evaluators than per-thread cache slots: each must still answer from its own snapshot.
  std::vector<std::unique_ptr<FlagEvaluator>> evs;
  for (int i = 0; i < 9; ++i) {
    evs.push_back(std::make_unique<FlagEvaluator>(
        std::make_shared<Snapshot>(i, std::vector<Flag>{MakeFlag("op", Stage::kRamp, i * 1000)})));
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 9; ++i) EXPECT_EQ(evs[i]->Decide("op", "s").threshold_bp, i * 1000);
  }
}

}  // namespace
}  // namespace cmo::flags
