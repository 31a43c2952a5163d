// `cmo watermarks clamp` clears a watermark poisoned before appliers checked LSNs (a forged
// heartbeat stored as a partition's max for good), and says what it did in the audit log.
#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/service/control_state.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/fakes/cmo_cli.h"

namespace cmo::orchestrator {
namespace {

using ::testing::HasSubstr;

TEST(WatermarkCli, ClampLowersPoisonedPositionsToThePrimarysLastLsn) {
  testing::CmoCli cli;
  cli.Ok({"ops", "add", "post.like", "--domain", "likes", "--target", "eventual"});
  const std::string dir = cli.StateDir();
  auto primary = store::PrimaryStore::Open(shadow::PrimaryPath(dir), base::SystemClock());
  ASSERT_TRUE(primary.ok());
  const std::vector<store::WriteRequest> writes = {{"likes", "k", "v", false, "post.like", "u"}};
  ASSERT_TRUE((*primary)->Write(writes).ok());
  const int64_t last = *(*primary)->LastLsn();
  {
    auto replica = store::ReplicaStore::Open(shadow::ReplicaPath(dir, "eu-west"));
    ASSERT_TRUE(replica.ok());
    const std::vector<store::PartitionProgress> poisoned = {
        {"cmo.changes.likes", 0, 10, 999999999999999999, 0}, {"cmo.changes.likes", 1, 10, last, 0}};
    ASSERT_TRUE((*replica)->Apply({}, poisoned).ok());
  }
  const nlohmann::json before = cli.Json({"watermarks"});
  ASSERT_EQ(before.size(), 2u);
  EXPECT_EQ(before[0]["state"], "above the primary");
  EXPECT_EQ(before[1]["state"], "ok");
  const auto missing_reason = cli.Run({"watermarks", "clamp"});
  EXPECT_EQ(missing_reason.exit_code, 2);
  cli.Ok({"watermarks", "clamp", "--dry-run", "--reason", "forged heartbeat"});
  EXPECT_EQ(cli.Json({"watermarks"})[0]["state"], "above the primary") << "dry run";
  EXPECT_THAT(cli.Ok({"watermarks", "clamp", "--reason", "forged heartbeat"}),
              HasSubstr("clamped"));
  const nlohmann::json after = cli.Json({"watermarks"});
  EXPECT_EQ(after[0]["recorded_lsn"], last);
  EXPECT_EQ(after[0]["state"], "ok");
  EXPECT_THAT(cli.Ok({"history", "--limit", "1"}), HasSubstr("forged heartbeat"));
}

}  // namespace
}  // namespace cmo::orchestrator
