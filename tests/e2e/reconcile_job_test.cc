// A reconciliation job killed with SIGKILL resumes from its checkpoint; an operator pauses,
// re-throttles and resumes it from another process; in the end nothing differs.
#include <signal.h>

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shadow/change_event.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/fakes/cmo_cli.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/wait.h"

namespace cmo {
namespace {

using ::cmo::testing::Child;
using ::cmo::testing::WaitFor;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

class ReconcileJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cli_.Ok({"ops", "add", "comment.read", "--domain", "comments", "--target", "causal"});
    const std::string dir = cli_.StateDir();
    auto primary = store::PrimaryStore::Open(shadow::PrimaryPath(dir), base::SystemClock());
    auto replica = store::ReplicaStore::Open(shadow::ReplicaPath(dir, "eu-west"));
    ASSERT_TRUE(primary.ok() && replica.ok());
    std::vector<store::WriteRequest> writes;
    for (int i = 0; i < 3000; ++i) {
      writes.push_back({"comments", "c-" + std::to_string(i), "t", false, "comment.post", "u"});
    }
    ASSERT_TRUE((*primary)->Write(writes).ok());
    auto outbox = (*primary)->ReadOutbox(0, 10'000);
    ASSERT_TRUE(outbox.ok());
    std::vector<store::Row> rows;
    for (const auto& e : *outbox) rows.push_back(e.row);
    // Applied everything: the watermark is the last LSN, so nothing counts as in flight.
    const std::string topic = shadow::ChangeTopic("comments");
    ASSERT_TRUE((*replica)->SetTopicPartitions({{topic, 1}}).ok());
    const store::PartitionProgress progress{topic, 0, 3000, rows.back().lsn, 0};
    ASSERT_TRUE((*replica)->Apply(rows, {&progress, 1}).ok());
    std::vector<store::ReplicaStore::Fix> damage;
    for (int i = 0; i < 3000; i += 10) {  // 300 keys lost on the replica
      damage.push_back({"comments", rows[static_cast<size_t>(i)].key,
                        rows[static_cast<size_t>(i)].lsn, std::nullopt});
    }
    ASSERT_TRUE((*replica)->Repair(damage).ok());
  }

  nlohmann::json Job() {
    nlohmann::json s = cli_.Json({"reconcile", "status"});
    return s.is_array() && !s.empty() ? s[0] : nlohmann::json::object();
  }

  std::unique_ptr<Child> Run(const std::string& rows_per_s) {
    return std::make_unique<Child>(std::vector<std::string>{
        CMO_BINARY, "--state-dir", cli_.StateDir(), "reconcile", "run", "--domain", "comments",
        "--region", "eu-west", "--max-rows-per-s", rows_per_s});
  }

  ::cmo::testing::CmoCli cli_;
};

TEST_F(ReconcileJobTest, KilledJobResumesPausesAndFinishes) {
  auto run = Run("150");
  ASSERT_TRUE(WaitFor([&] { return Job().value("buckets_done", 0) >= 8; }, 20s));
  run->Kill(SIGKILL);
  run->Wait();
  const nlohmann::json killed = Job();
  EXPECT_EQ(killed["state"], "running") << "killed mid-run, not finished";
  const int64_t done_at_kill = killed["buckets_done"];
  const int64_t total = killed["buckets_total"];
  ASSERT_LT(done_at_kill, total);

  cli_.Ok({"reconcile", "pause", "--domain", "comments", "--region", "eu-west"});
  run = Run("150");
  ASSERT_TRUE(WaitFor([&] { return Job().value("waiting", "") == "paused by an operator"; }, 20s));
  const int64_t paused_at = Job()["buckets_done"];
  EXPECT_GE(paused_at, done_at_kill) << "resumed from the checkpoint, not from the start";
  ::usleep(600'000);
  EXPECT_EQ(Job()["buckets_done"], paused_at) << "a paused job does not progress";

  cli_.Ok({"reconcile", "throttle", "--domain", "comments", "--region", "eu-west",
           "--rows-per-s", "0"});
  EXPECT_EQ(Job()["max_rows_per_s"], 0);
  cli_.Ok({"reconcile", "resume", "--domain", "comments", "--region", "eu-west"});
  EXPECT_EQ(run->Wait(), 0);
  const nlohmann::json done = Job();
  EXPECT_EQ(done["state"], "done");
  EXPECT_EQ(done["buckets_done"], total);
  EXPECT_THAT(cli_.Ok({"reconcile", "status"}), HasSubstr("done"));
  nlohmann::json check =
      cli_.Json({"reconcile", "run", "--domain", "comments", "--dry-run"});
  EXPECT_EQ(check[0]["found"], 0) << "every lost row is back";
  EXPECT_EQ(cli_.Run({"reconcile", "pause", "--domain", "comments", "--region", "eu-west"})
                .exit_code,
            1)
      << "a finished job cannot be paused";
  EXPECT_EQ(cli_.Run({"reconcile", "pause", "--domain", "likes", "--region", "eu-west"})
                .exit_code,
            2);
}

}  // namespace
}  // namespace cmo
