// The control service's side of top_k tiers: the heaviest writers the clients report are summed
// over each tier's window, the K heaviest are published (audited, once per change), a window
// with no reports keeps what was published, and old reports age out.
#include "orchestrator/service/heavy_writers.h"

#include "flags/tier_store.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"
#include "tests/status_matchers.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::IsOk;
using ::cmo::testing::IsOkAndHolds;

class HeavyWritersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto flags = flags::FlagStore::Open(dir_.File("control.db"), clock_);
    ASSERT_THAT(flags, IsOk());
    flags_ = *std::move(flags);
    flags::Flag f;
    f.op = "post.like";
    f.domain = "likes";
    f.target.model = flags::Model::kEventual;
    ASSERT_THAT(flags_->Add(f, {"t", "r", "add", false}), IsOk());
    flags::Tier t;
    t.name = "super_users";
    t.target = {flags::Model::kBoundedStaleness, absl::Seconds(1)};
    t.ops = {"post.like"};
    t.top_k = 2;
    t.top_k_window = absl::Minutes(1);
    ASSERT_THAT(flags::ReplaceTiers(*flags_, "social", {t}, {"t", "r", "plan.tiers", false}),
                IsOk());
  }

  // One client's window ending now, with these writers.
  shadow::TelemetryWindow Window(std::vector<shadow::SubjectWrites> top) {
    shadow::TelemetryWindow w;
    w.client_id = "app-1";
    w.start = clock_.Now() - absl::Milliseconds(250);
    w.end = clock_.Now();
    w.top_writers = std::move(top);
    return w;
  }

  std::vector<std::string> Published() { return flags::StoredTiers(flags_->db())->at(0).heavy; }

  ::cmo::testing::TempDir dir_;
  ::cmo::testing::FakeClock clock_;
  std::unique_ptr<flags::FlagStore> flags_;
};

TEST_F(HeavyWritersTest, PublishesTheKHeaviestAcrossClientsOncePerChange) {
  HeavyWriters hw(*flags_, clock_);
  ASSERT_THAT(hw.Refresh(), IsOkAndHolds(0));  // learns the tiers; nothing reported yet
  hw.Ingest(Window({{"a", 50}, {"b", 40}, {"c", 30}}));
  hw.Ingest(Window({{"c", 30}, {"d", 5}}));  // another client: c sums to 60
  clock_.Advance(absl::Seconds(10));
  const int64_t before = *flags_->Revision();
  ASSERT_THAT(hw.Refresh(), IsOkAndHolds(1));
  EXPECT_EQ(Published(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(*flags_->Revision(), before + 1);
  auto history = flags_->History("plan:social", 1);
  EXPECT_EQ(history->at(0).action, "tier.top_k");
  EXPECT_EQ(history->at(0).actor, "cmo.heavy_writers");
  // The snapshot routes them as members.
  EXPECT_EQ((*flags_->LoadSnapshot())->Route("post.like", "c").tier_via, flags::TierVia::kTopK);

  // The same two heaviest again: no change, no revision.
  hw.Ingest(Window({{"a", 5}, {"c", 5}}));
  clock_.Advance(absl::Seconds(10));
  ASSERT_THAT(hw.Refresh(), IsOkAndHolds(0));
  EXPECT_EQ(*flags_->Revision(), before + 1);
  // No refresh before refresh_every has passed.
  hw.Ingest(Window({{"z", 1000}}));
  ASSERT_THAT(hw.Refresh(), IsOkAndHolds(0));
  clock_.Advance(absl::Seconds(10));
  ASSERT_THAT(hw.Refresh(), IsOkAndHolds(1));
  EXPECT_EQ(Published(), (std::vector<std::string>{"c", "z"}));  // c: 65 over the window, a: 55
}

TEST_F(HeavyWritersTest, OldReportsAgeOutButSilenceKeepsTheMembers) {
  HeavyWriters hw(*flags_, clock_);
  ASSERT_THAT(hw.Refresh(), IsOk());
  hw.Ingest(Window({{"old-1", 100}, {"old-2", 90}}));
  clock_.Advance(absl::Seconds(10));
  ASSERT_THAT(hw.Refresh(), IsOkAndHolds(1));
  // Two minutes later (the window is 1m) the old reports count no more...
  clock_.Advance(absl::Minutes(2));
  hw.Ingest(Window({{"new-1", 3}, {"new-2", 2}}));
  clock_.Advance(absl::Seconds(10));
  ASSERT_THAT(hw.Refresh(), IsOkAndHolds(1));
  EXPECT_EQ(Published(), (std::vector<std::string>{"new-1", "new-2"}));
  // ...and when nothing at all is reported (telemetry lost), the members stay.
  clock_.Advance(absl::Minutes(5));
  ASSERT_THAT(hw.Refresh(), IsOkAndHolds(0));
  EXPECT_EQ(Published(), (std::vector<std::string>{"new-1", "new-2"}));
}

TEST_F(HeavyWritersTest, WithoutATopKTierNothingIsKept) {
  ASSERT_THAT(flags::ReplaceTiers(*flags_, "social", {}, {"t", "r", "plan.tiers", false}), IsOk());
  HeavyWriters hw(*flags_, clock_);
  ASSERT_THAT(hw.Refresh(), IsOkAndHolds(0));
  hw.Ingest(Window({{"a", 50}}));
  clock_.Advance(absl::Seconds(10));
  EXPECT_THAT(hw.Refresh(), IsOkAndHolds(0));
}

}  // namespace
}  // namespace cmo::orchestrator
