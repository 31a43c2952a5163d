// `cmo serve` reconciles on the schedule of the applied plan: a row corrupted on a replica is
// found, repaired and logged without anyone running `cmo reconcile`.
#include "base/sqlite.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/plan_parser.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/server.h"
#include "reconcile/divergence_log.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::WaitFor;
using namespace std::chrono_literals;

constexpr char kPlan[] = R"(
version: 1
name: nightly
operations:
  - {op: comment.read, kind: read, domain: comments, target: causal}
phases:
  - name: comments
    ops: [comment.read]
    steps: [dual_write]
reconciliation: {every: 1s, policy: primary_wins}
)";

TEST(ScheduledReconcileTest, ServeRepairsACorruptedRowOnThePlansSchedule) {
  ::cmo::testing::TempDir dir;
  const std::string state_dir = dir.File("state");
  {
    auto state = OpenControlState(state_dir, /*create=*/true, base::SystemClock());
    ASSERT_TRUE(state.ok()) << state.status();
    migrations::ParseResult parsed = migrations::ParsePlan(kPlan);
    ASSERT_TRUE(parsed.ok());
    ASSERT_TRUE((*state)->executor->Apply(parsed.plan, "nightly.yaml", kPlan,
                                          {"t", "t", "plan.apply", false}, false)
                    .ok());
  }
  auto primary = store::PrimaryStore::Open(shadow::PrimaryPath(state_dir), base::SystemClock());
  ASSERT_TRUE(primary.ok());
  std::vector<store::WriteRequest> writes;
  for (int i = 0; i < 50; ++i) {
    writes.push_back({"comments", "c-" + std::to_string(i), "text", false, "comment.post", "u"});
  }
  ASSERT_TRUE((*primary)->Write(writes).ok());
  ServeConfig config;
  config.state_dir = state_dir;
  config.regions = {"eu-west"};
  auto server = Server::Start(config, base::SystemClock());
  ASSERT_TRUE(server.ok()) << server.status();
  auto replica = store::ReplicaStore::Open(shadow::ReplicaPath(state_dir, "eu-west"));
  ASSERT_TRUE(replica.ok());
  ASSERT_TRUE(WaitFor(
      [&] { return *(*replica)->Digests("comments") == *(*primary)->Digests("comments"); }, 20s));

  store::Row bad = **(*replica)->Get("comments", "c-7");
  bad.value = "corrupted";
  const store::ReplicaStore::Fix fix{"comments", "c-7", bad.lsn, bad};
  ASSERT_TRUE((*replica)->Repair({&fix, 1}).ok());
  EXPECT_TRUE(WaitFor([&] { return (**(*replica)->Get("comments", "c-7")).value == "text"; },
                      15s))
      << "the scheduled pass repairs it";
  // The row is healed in the middle of the pass; the pass is counted (and its divergence
  // records are all written) only when it ends (seen under ASan: healed, count still 0).
  EXPECT_TRUE(WaitFor([&] { return (*server)->reconcile_passes() >= 1; }, 15s))
      << "the scheduled pass ends";
  ASSERT_TRUE((*server)->Stop().ok());

  auto db = base::SqliteDb::Open(shadow::ControlDbPath(state_dir));
  ASSERT_TRUE(db.ok());
  auto log = reconcile::DivergenceLog::Open(**db);
  ASSERT_TRUE(log.ok());
  reconcile::DivergenceQuery q;
  q.key = "c-7";
  auto found = (*log)->Find(q);
  ASSERT_TRUE(found.ok());
  ASSERT_FALSE(found->empty());
  EXPECT_EQ(found->back().diff_class, "divergent");
  EXPECT_EQ(found->back().detected_by, "reconcile");
  EXPECT_TRUE(found->back().healed_at.has_value());
  // Traceable to the Kafka record that wrote the replica's row: partition and offset.
  EXPECT_GE(found->back().partition, 0);
  EXPECT_EQ(found->back().offset, bad.kafka_offset);
  EXPECT_GE(bad.kafka_offset, 0) << "the applier records where each row came from";
}

}  // namespace
}  // namespace cmo::orchestrator
