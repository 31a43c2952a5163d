// `cmo reconcile run` and `cmo report divergence` through the binary, on a state dir whose
// replica was damaged by hand.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/clock.h"
#include "base/sqlite.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reconcile/divergence_log.h"
#include "shadow/change_event.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/fakes/cmo_cli.h"
#include "tests/status_matchers.h"

namespace cmo {
namespace {

using ::cmo::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "SECRET-VALUE-never-in-reports";

class ReconcileCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cli_.Ok({"ops", "add", "comment.read", "--domain", "comments", "--target", "causal"});
    const std::string dir = cli_.StateDir();
    auto primary = store::PrimaryStore::Open(shadow::PrimaryPath(dir), base::SystemClock());
    auto replica = store::ReplicaStore::Open(shadow::ReplicaPath(dir, "eu-west"));
    ASSERT_THAT(primary, IsOk());
    ASSERT_THAT(replica, IsOk());
    std::vector<store::WriteRequest> writes;
    for (int i = 0; i < 100; ++i) {
      writes.push_back({"comments", "c-" + std::to_string(i), "text " + std::to_string(i), false,
                        "comment.post", "user-" + std::to_string(i % 7)});
    }
    ASSERT_THAT((*primary)->Write(writes), IsOk());
    auto outbox = (*primary)->ReadOutbox(0, 1000);
    ASSERT_THAT(outbox, IsOk());
    std::vector<store::Row> rows;
    for (const auto& e : *outbox) rows.push_back(e.row);
    const std::string topic = shadow::ChangeTopic("comments");
    ASSERT_THAT((*replica)->SetTopicPartitions({{topic, 1}}), IsOk());
    const store::PartitionProgress progress{topic, 0, 100, rows.back().lsn, 0};
    ASSERT_THAT((*replica)->Apply(rows, {&progress, 1}), IsOk());
    // Damage: one row lost, one row with other bytes at the same version.
    store::Row bad = rows[5];
    bad.value = kSecret;
    const std::vector<store::ReplicaStore::Fix> fixes = {{"comments", "c-3", rows[3].lsn, {}},
                                                         {"comments", "c-5", rows[5].lsn, bad}};
    ASSERT_THAT((*replica)->Repair(fixes), ::cmo::testing::IsOkAndHolds(2));
  }

  ::cmo::testing::CmoCli cli_;
};

TEST_F(ReconcileCliTest, DryRunFindsThenRunHealsAndLogsThenNothingIsLeft) {
  nlohmann::json dry = cli_.Json({"reconcile", "run", "--domain", "comments", "--dry-run"});
  ASSERT_TRUE(dry.is_array());
  EXPECT_EQ(dry[0]["region"], "eu-west");
  EXPECT_EQ(dry[0]["found"], 2);
  EXPECT_EQ(dry[0]["healed"], 0);
  nlohmann::json run = cli_.Json({"reconcile", "run", "--domain", "comments"});
  EXPECT_EQ(run[0]["found"], 2);
  EXPECT_EQ(run[0]["healed"], 2);
  std::set<std::string> classes;
  for (const auto& d : run[0]["diffs"]) classes.insert(d["class"]);
  EXPECT_THAT(classes, ::testing::ElementsAre("divergent", "missing"));
  nlohmann::json again = cli_.Json({"reconcile", "run", "--domain", "comments"});
  EXPECT_EQ(again[0]["found"], 0);
  EXPECT_EQ(again[0]["differing_buckets"], 0);

  nlohmann::json report = cli_.Json({"report", "divergence"});
  ASSERT_EQ(report["count"], 2);
  EXPECT_THAT(report["items"][0]["summary"].get<std::string>(), HasSubstr("in eu-west at"));
  EXPECT_THAT(report.dump(), HasSubstr("repaired by reconciliation"));
  EXPECT_THAT(report.dump(), Not(HasSubstr(kSecret))) << "values never reach reports";
  EXPECT_NE(report["items"][0]["primary_digest"], "");
}

TEST_F(ReconcileCliTest, SupportReportForOneUserInEveryFormat) {
  {
    auto db = base::SqliteDb::Open(cli_.StateDir() + "/control.db");
    ASSERT_THAT(db, IsOk());
    auto log = reconcile::DivergenceLog::Open(**db);
    ASSERT_THAT(log, IsOk());
    reconcile::DivergenceRecord lag;
    lag.domain = "comments";
    lag.key = "c-123";
    lag.subject = "user-42";
    lag.op = "comment.read";
    lag.diff_class = "lag";
    lag.region = "eu-west";
    lag.primary_lsn = lag.replica_lsn = 77;
    lag.detected_by = "shadow";
    lag.detected_at = absl::Now() - absl::Minutes(3);
    lag.healed_at = lag.detected_at;
    lag.heal_action = "converged (replication lag)";
    ASSERT_THAT((*log)->Append(lag), IsOk());
    reconcile::DivergenceRecord other = lag;
    other.subject = "user-7";
    other.key = "c-9";
    ASSERT_THAT((*log)->Append(other), IsOk());
  }
  const std::string table = cli_.Ok({"report", "divergence", "--user", "user-42"});
  EXPECT_THAT(table, HasSubstr("comment c-123 was out of date in eu-west"));
  EXPECT_THAT(table, HasSubstr("replication lag, caught up by itself"));
  EXPECT_THAT(table, Not(HasSubstr("c-9")));
  const std::string csv = cli_.Ok({"report", "divergence", "--user", "user-42", "--format", "csv"});
  EXPECT_THAT(csv, HasSubstr("detected_at,subject,op"));
  EXPECT_THAT(csv, HasSubstr(",user-42,comment.read,comments,c-123,eu-west,lag,"));

  const std::string html_path = cli_.dir() + "/report.html";
  EXPECT_THAT(
      cli_.Ok({"report", "divergence", "--user", "user-42", "--format", "html", "-o", html_path}),
      HasSubstr("wrote 1 item(s)"));
  std::ifstream in(html_path);
  std::stringstream html;
  html << in.rdbuf();
  EXPECT_THAT(html.str(), HasSubstr("<svg"));
  EXPECT_THAT(html.str(), HasSubstr("comment c-123 was out of date"));
  EXPECT_THAT(html.str(), Not(HasSubstr("src="))) << "self-contained: no external assets";
  EXPECT_THAT(html.str(), Not(HasSubstr("href=")));

  EXPECT_EQ(cli_.Run({"report", "divergence", "--format", "pdf"}).exit_code, 2);
  EXPECT_EQ(cli_.Run({"report", "divergence", "--since", "yesterday"}).exit_code, 2);
  EXPECT_EQ(cli_.Run({"reconcile", "run", "--domain", "comments", "--policy", "newest"}).exit_code,
            2);
  EXPECT_EQ(cli_.Run({"reconcile", "run", "--domain", "comments", "--region", "mars"}).exit_code,
            2);
  nlohmann::json verify = cli_.Json({"reconcile", "verify", "--domain", "comments"});
  ASSERT_EQ(verify.size(), 2u);
  EXPECT_EQ(verify[0]["rows"], 100);
  EXPECT_TRUE(verify[1]["corrupt_buckets"].empty());
  {
    auto db = base::SqliteDb::Open(cli_.StateDir() + "/replica-eu-west.db");
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->ExecScript("UPDATE digests SET hi = (hi + 1) % 4294967296 WHERE bucket = "
                                  "(SELECT min(bucket) FROM digests)"),
                IsOk());
  }
  ::cmo::testing::RunResult bad = cli_.Run({"reconcile", "verify", "--domain", "comments"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("digest corruption found"));
  nlohmann::json gc = cli_.Json({"reconcile", "gc", "--domain", "comments", "--grace", "7d"});
  EXPECT_EQ(gc["primary"], 0) << "no tombstone is a week old here";
  EXPECT_EQ(gc["eu-west"], 0);
  EXPECT_EQ(cli_.Run({"reconcile", "gc", "--domain", "comments", "--grace", "5m"}).exit_code, 2);
}

}  // namespace
}  // namespace cmo
