#include "shadow/stalled_partitions.h"

#include "gtest/gtest.h"

namespace cmo::shadow {
namespace {

using Partition = StalledPartitions::Partition;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);
constexpr absl::Duration kStallAfter = absl::Seconds(30);

store::PartitionProgress At(const std::string& topic, int32_t partition, int64_t max_lsn) {
  store::PartitionProgress p;
  p.topic = topic;
  p.partition = partition;
  p.max_lsn = max_lsn;
  return p;
}

// Two topics of two partitions; every reading moves all of them but those in `still`, as
// heartbeats do every second while the relay runs.
class StalledPartitionsTest : public ::testing::Test {
 protected:
  StalledPartitionsTest() {
    watch_.Watch({{"likes", 2}, {"comments", 2}}, kStart);
    ReadAt(absl::ZeroDuration(), {});  // every partition at LSN 100 when watching starts
  }

  std::vector<Partition> ReadAt(absl::Duration since_start, const std::vector<Partition>& still) {
    const int64_t lsn = 100 + absl::ToInt64Seconds(since_start);
    std::vector<store::PartitionProgress> progress;
    for (const Partition& p :
         std::vector<Partition>{{"likes", 0}, {"likes", 1}, {"comments", 0}, {"comments", 1}}) {
      const bool stands = std::find(still.begin(), still.end(), p) != still.end();
      progress.push_back(At(p.first, p.second, stands ? 100 : lsn));
    }
    return watch_.Observe(progress, kStart + since_start);
  }

  StalledPartitions watch_{kStallAfter};
};

TEST_F(StalledPartitionsTest, APartitionThatStandsStillWhileOthersMoveIsReportedAfterStallAfter) {
  for (int s = 1; s < 30; ++s) {
    EXPECT_TRUE(ReadAt(absl::Seconds(s), {{"likes", 1}}).empty()) << "at " << s << " s";
  }
  EXPECT_EQ(ReadAt(absl::Seconds(30), {{"likes", 1}}), std::vector<Partition>({{"likes", 1}}));
}

TEST_F(StalledPartitionsTest, APartitionNeverSeenInTheProgressCountsAsStandingStill) {
  // A topic nobody was given: its partitions never reach the replica's progress.
  StalledPartitions watch(kStallAfter);
  watch.Watch({{"likes", 2}, {"comments", 2}}, kStart);
  for (int s = 1; s <= 30; ++s) {
    const std::vector<store::PartitionProgress> progress = {At("comments", 0, 100 + s),
                                                            At("comments", 1, 100 + s)};
    const std::vector<Partition> stalled = watch.Observe(progress, kStart + absl::Seconds(s));
    if (s < 30) {
      EXPECT_TRUE(stalled.empty()) << "at " << s << " s";
    } else {
      EXPECT_EQ(stalled, std::vector<Partition>({{"likes", 0}, {"likes", 1}}));
    }
  }
}

TEST_F(StalledPartitionsTest, NothingIsReportedWhenEveryPartitionStandsStill) {
  // The relay is down, or the whole group is: no single partition was left out.
  const std::vector<Partition> all = {{"likes", 0}, {"likes", 1}, {"comments", 0}, {"comments", 1}};
  for (int s = 1; s <= 120; ++s) {
    EXPECT_TRUE(ReadAt(absl::Seconds(s), all).empty()) << "at " << s << " s";
  }
}

TEST_F(StalledPartitionsTest, IdleHeartbeatsEveryTenSecondsAreEnoughToMove) {
  // An idle relay heartbeats every 10 s: every partition moves at once, none is left out.
  for (int s = 1; s <= 120; ++s) {
    std::vector<store::PartitionProgress> progress;
    const int64_t lsn = 100 + s / 10;
    for (int p = 0; p < 2; ++p) {
      progress.push_back(At("likes", p, lsn));
      progress.push_back(At("comments", p, lsn));
    }
    EXPECT_TRUE(watch_.Observe(progress, kStart + absl::Seconds(s)).empty()) << "at " << s << " s";
  }
}

TEST_F(StalledPartitionsTest, WatchingAgainGivesTheGroupAnotherStallAfter) {
  EXPECT_FALSE(ReadAt(absl::Seconds(30), {{"likes", 1}}).empty());
  // The applier rejoined its group at 30 s.
  watch_.Watch({{"likes", 2}, {"comments", 2}}, kStart + absl::Seconds(30));
  for (int s = 31; s < 60; ++s) {
    EXPECT_TRUE(ReadAt(absl::Seconds(s), {{"likes", 1}}).empty()) << "at " << s << " s";
  }
  EXPECT_EQ(ReadAt(absl::Seconds(60), {{"likes", 1}}), std::vector<Partition>({{"likes", 1}}));
}

TEST_F(StalledPartitionsTest, APartitionThatMovesAgainIsNoLongerReported) {
  EXPECT_FALSE(ReadAt(absl::Seconds(30), {{"likes", 1}}).empty());
  EXPECT_TRUE(ReadAt(absl::Seconds(31), {}).empty());
}

TEST_F(StalledPartitionsTest, PartitionsOfTopicsNotWatchedAreIgnored) {
  // Another channel's topic in the same replica's progress, standing still.
  for (int s = 1; s <= 40; ++s) {
    std::vector<store::PartitionProgress> progress = {At("priority", 0, 7)};
    for (int p = 0; p < 2; ++p) {
      progress.push_back(At("likes", p, 100 + s));
      progress.push_back(At("comments", p, 100 + s));
    }
    EXPECT_TRUE(watch_.Observe(progress, kStart + absl::Seconds(s)).empty()) << "at " << s << " s";
  }
}

}  // namespace
}  // namespace cmo::shadow
