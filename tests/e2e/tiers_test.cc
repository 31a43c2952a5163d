// Top-K tiers end to end through a running control service (`cmo serve`'s Server with its
// embedded Kafka): an app's client writes, reports its heaviest writers in signed telemetry,
// the control loop sums them and publishes the tier's members in the next flag snapshot, and
// the same client then routes those subjects by the tier — without anyone naming them.
#include "flags/tier_store.h"
#include "gtest/gtest.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/server.h"
#include "shadow/client.h"
#include "shadow/state_layout.h"
#include "store/replica_store.h"
#include "tests/e2e/in_process_serve.h"
#include "tests/fakes/wait.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::WaitFor;
using namespace std::chrono_literals;

TEST(TiersEndToEnd, TheHeaviestWritersJoinTheirTierOnEveryClient) {
  cmo::testing::InProcessServe serve(
      {"post.like"}, "likes", flags::Stage::kStrong, {"eu-west"}, [](flags::FlagStore& store) {
        flags::Tier t;
        t.name = "super_users";
        t.target = {flags::Model::kBoundedStaleness, absl::Seconds(1)};
        t.ops = {"post.like"};
        t.top_k = 2;
        t.top_k_window = absl::Minutes(1);
        ASSERT_TRUE(
            flags::ReplaceTiers(store, "social", {t}, {"t", "t", "plan.tiers", false}).ok());
      });
  ASSERT_TRUE(serve.started());
  shadow::Client& c = serve.Client("eu-west");
  const auto via = [&](const char* subject) {
    return c.evaluator().Decide("post.like", subject).tier_via;
  };
  EXPECT_EQ(via("super-1"), flags::TierVia::kNone);
  const absl::Time start = absl::Now();
  // Two heavy writers among many light ones, for as long as it takes (each window reports).
  int round = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 20; ++i) EXPECT_TRUE(c.Write("post.like", "super-1", "k", "v").ok());
        for (int i = 0; i < 10; ++i) EXPECT_TRUE(c.Write("post.like", "super-2", "k", "v").ok());
        for (int i = 0; i < 5; ++i) {
          const std::string light = "light-" + std::to_string(round * 5 + i);
          EXPECT_TRUE(c.Write("post.like", light, "k", "v").ok());
        }
        ++round;
        return via("super-1") == flags::TierVia::kTopK && via("super-2") == flags::TierVia::kTopK;
      },
      40s));
  std::printf("heaviest writers in their tier on the client after %s\n",
              absl::FormatDuration(absl::Now() - start).c_str());
  EXPECT_EQ(via("light-0"), flags::TierVia::kNone);
  EXPECT_GE(c.stats().telemetry_published, 1);
  // The control state says who joined, and that cmo put them there.
  auto state = OpenControlState(serve.state_dir(), /*create=*/false, base::SystemClock());
  ASSERT_TRUE(state.ok());
  auto history = (*state)->flags->History("plan:social", 5);
  ASSERT_TRUE(history.ok());
  bool audited = false;
  for (const flags::AuditEntry& e : *history) {
    audited |= e.action == "tier.top_k" && e.actor == "cmo.heavy_writers";
  }
  EXPECT_TRUE(audited);
}

// An amplification guard across app servers: a viral write on one client makes its item read
// strong on another client (another region) within milliseconds, through cmo.amplified.
TEST(TiersEndToEnd, AViralWriteReadsStrongOnEveryClient) {
  cmo::testing::InProcessServe serve(
      {"comment.create", "comment.list"}, "comments", flags::Stage::kEventual,
      {"eu-west", "us-east"}, [](flags::FlagStore& store) {
        ASSERT_TRUE(flags::ReplaceAmplifiers(
                        store, "social",
                        {{"social", "comment.create", "reach > 100000", absl::Seconds(30)}},
                        {"t", "t", "plan.amplify", false})
                        .ok());
      });
  ASSERT_TRUE(serve.started());
  shadow::Client& writer = serve.Client("eu-west");
  shadow::Client& reader = serve.Client("us-east");
  ASSERT_TRUE(WaitFor(
      [&] { return reader.evaluator().Decide("comment.list", "u").path == flags::Path::kEventual; },
      20s));
  EXPECT_EQ(reader.Read("comment.list", "fan-1", "viral-1")->path, flags::Path::kEventual);
  const std::vector<flags::Attribute> viral = {{"reach", "2500000"}};
  const absl::Time wrote = absl::Now();
  ASSERT_TRUE(writer.Write("comment.create", "celebrity-1", "viral-1", "first!", "", viral).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = reader.Read("comment.list", "fan-1", "viral-1");
        return r.ok() && r->path == flags::Path::kStrong && r->value == "first!";
      },
      10s));
  std::printf("a viral write read strong on the other region's client after %s\n",
              absl::FormatDuration(absl::Now() - wrote).c_str());
  EXPECT_EQ(reader.stats().hot_items, 1);
  // Warm (producer and follower connected): how long the next one takes.
  const absl::Time again = absl::Now();
  ASSERT_TRUE(writer.Write("comment.create", "celebrity-1", "viral-2", "again", "", viral).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = reader.Read("comment.list", "fan-1", "viral-2");
        return r.ok() && r->path == flags::Path::kStrong;
      },
      10s));
  std::printf("the next one after %s\n", absl::FormatDuration(absl::Now() - again).c_str());
  EXPECT_EQ(reader.stats().hot_items, 2);
  ASSERT_TRUE(
      writer.Write("comment.create", "user-7", "quiet-1", "hi", "", {{{"reach", "3"}}}).ok());
  EXPECT_EQ(reader.Read("comment.list", "fan-1", "quiet-1")->path, flags::Path::kEventual);
}

// The priority replication channel: with every region's bulk channel held 3 s behind (a backlog
// of bulk changes), the writes of a priority tier's members reach every region within a
// second, and once the backlog drains every region has every write.
TEST(TiersEndToEnd, APriorityTiersWritesOvertakeABulkBacklogInEveryRegion) {
  constexpr int kWrites = 40;
  const std::vector<std::string> regions = {"eu-west", "us-east"};
  cmo::testing::InProcessServe serve(
      {"post.create"}, "posts", flags::Stage::kStrong, regions,
      [](flags::FlagStore& store) {
        flags::Tier t;
        t.name = "super_users";
        t.target = {flags::Model::kBoundedStaleness, absl::Seconds(1)};
        t.ops = {"post.create"};
        t.subjects = {"celebrity"};
        t.priority = true;
        ASSERT_TRUE(
            flags::ReplaceTiers(store, "social", {t}, {"t", "t", "plan.tiers", false}).ok());
      },
      [](ServeConfig& config) { config.applier.simulated_bulk_delay = absl::Seconds(3); });
  ASSERT_TRUE(serve.started());
  shadow::Client& c = serve.Client("eu-west");
  ASSERT_TRUE(WaitFor(
      [&] { return c.evaluator().Decide("post.create", "celebrity").tier != nullptr; }, 20s));
  std::vector<std::unique_ptr<store::ReplicaStore>> replicas;
  for (const std::string& region : regions) {
    auto r = store::ReplicaStore::Open(shadow::ReplicaPath(serve.state_dir(), region));
    ASSERT_TRUE(r.ok()) << r.status();
    replicas.push_back(*std::move(r));
  }
  const auto all_there = [&](const std::string& prefix, int n) {
    for (auto& r : replicas) {
      for (int i = 0; i < n; ++i) {
        auto row = r->Get("posts", prefix + std::to_string(i));
        if (!row.ok() || !row->has_value()) return false;
      }
    }
    return true;
  };
  // The domain's first writes create its topics, which appliers find within a second: warm
  // both channels up first, so what is measured is the steady state.
  ASSERT_TRUE(c.Write("post.create", "user-x", "warm-0", "v").ok());
  ASSERT_TRUE(c.Write("post.create", "celebrity", "warm-1", "v").ok());
  ASSERT_TRUE(WaitFor([&] { return all_there("warm-", 2); }, 20s));
  for (int i = 0; i < kWrites; ++i) {
    ASSERT_TRUE(
        c.Write("post.create", "user-" + std::to_string(i), "bulk-" + std::to_string(i), "v").ok());
    ASSERT_TRUE(c.Write("post.create", "celebrity", "star-" + std::to_string(i), "v").ok());
    absl::SleepFor(absl::Milliseconds(25));
  }
  const absl::Time written = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return all_there("star-", kWrites); }, 5s));
  const absl::Duration priority_done = absl::Now() - written;
  // The backlog is real: the bulk writes made just before the last priority ones are not there.
  EXPECT_FALSE(all_there("bulk-", kWrites)) << "the bulk channel should still be behind";
  EXPECT_LT(priority_done, absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return all_there("bulk-", kWrites); }, 20s)) << "every write arrives";
  absl::SleepFor(absl::Milliseconds(300));  // the regions' metrics are refreshed every 200 ms
  for (const Server::RegionStatus& r : serve.server().regions()) {
    std::printf("%s: priority lag p50 %.1f ms p99 %.1f ms (%lld changes), bulk lag p99 %.1f ms\n",
                r.region.c_str(), r.applier.priority_lag_p50_ms, r.applier.priority_lag_p99_ms,
                static_cast<long long>(r.applier.priority_lag_samples), r.applier.bulk_lag_p99_ms);
    EXPECT_GE(r.applier.priority_lag_samples, kWrites) << r.region;
    // p99 of kWrites + 1 samples leaves out the largest: the warm-up write's.
    EXPECT_LE(r.applier.priority_lag_p99_ms, 1000) << r.region;
    EXPECT_GE(r.applier.bulk_lag_p99_ms, 2500) << r.region;
  }
}

}  // namespace
}  // namespace cmo::orchestrator
