// Change data capture from an app's own PostgreSQL tables, on a real server (initdb into a
// temp dir, wal_level=logical): the relay snapshots the tables, then follows the slot, while
// the app writes plain SQL; appliers keep a PostgreSQL replica and an SQLite replica. Every
// test ends with each replica equal to the source tables row by row, judged by the server's
// row_to_json.
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/kafka.h"
#include "base/pg_replication.h"
#include "gtest/gtest.h"
#include "orchestrator/service/cdc_reconcile.h"
#include "shadow/applier.h"
#include "shadow/cdc_relay.h"
#include "shadow/change_event.h"
#include "shadow/client.h"
#include "shadow/mismatch.h"
#include "shadow/session_token.h"
#include "shadow/telemetry.h"
#include "store/replica_store.h"
#include "tests/e2e/cdc_app.h"
#include "tests/fakes/pg_server.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"
#include "tests/shadow/client_harness.h"
#include "tests/status_matchers.h"

namespace cmo::shadow {
namespace {

constexpr int kPartitions = 4;

class CdcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = ::cmo::testing::StartCdcServer();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    auto app = base::PgConnection::Connect(pg_->Uri("app"));
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = *std::move(app);
    auto cluster = base::KafkaMockCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    kafka_ = {{"bootstrap.servers", cluster_->bootstrap_servers()}, {"log_level", "0"}};
    auto eu = store::ReplicaStore::Open(pg_->Uri("replica"), {8, false});
    ASSERT_TRUE(eu.ok()) << eu.status();
    replicas_.push_back(*std::move(eu));
    auto us = store::ReplicaStore::Open(dir_.File("us-east.db"), {8, false});
    ASSERT_TRUE(us.ok()) << us.status();
    replicas_.push_back(*std::move(us));
    for (size_t i = 0; i < replicas_.size(); ++i) {
      auto a = Applier::Create(*replicas_[i], kafka_, base::SystemClock(),
                               ApplierOptionsFor(i == 0 ? "eu-west" : "us-east"), [this] {
                                 return CdcRelay::RequestRepublish(pg_->Uri("app"), options_);
                               });
      ASSERT_TRUE(a.ok()) << a.status();
      appliers_.push_back(*std::move(a));
    }
    options_.tables = ::cmo::testing::CdcAppTables();
  }

  // As `cmo serve` configures them: every test then also shows the LSN ceiling refusing no
  // real change.
  ApplierOptions ApplierOptionsFor(const std::string& region) {
    return {.region = region, .lsn_ceiling = CdcRelay::LsnCeiling(pg_->Uri("app"))};
  }

  absl::Status StartRelay() {
    relay_.reset();
    auto relay = CdcRelay::Create(
        pg_->Uri("app"), kafka_,
        [this](const std::string& topic) -> absl::StatusOr<int> {
          absl::Status s = cluster_->CreateTopic(topic, kPartitions, 3);
          if (!s.ok() && !absl::IsAlreadyExists(s)) return s;
          return kPartitions;
        },
        [this](const std::map<std::string, int>&) -> absl::StatusOr<int64_t> {
          int64_t min = INT64_MAX;
          for (auto& a : appliers_) min = std::min(min, a->Watermark().value_or(0));
          return min;
        },
        base::SystemClock(), options_);
    if (!relay.ok()) return relay.status();
    relay_ = *std::move(relay);
    return absl::OkStatus();
  }

  // Relay and appliers one step each; a source that is away is waited out, as `cmo serve` does.
  // `us_east` false: that region's applier is stopped.
  void Step(bool us_east = true) {
    if (relay_ != nullptr) {
      const absl::Status s = relay_->Step(5);
      ASSERT_TRUE(s.ok() || absl::IsUnavailable(s)) << s;
    }
    for (size_t i = 0; i < appliers_.size(); ++i) {
      if (i == 1 && !us_east) continue;
      const absl::Status s = appliers_[i]->Step(5);
      ASSERT_TRUE(s.ok() || absl::IsUnavailable(s)) << s;
    }
  }

  int64_t MinWatermark() {
    int64_t min = INT64_MAX;
    for (auto& r : replicas_) {
      for (const char* d : {"comments", "follows"}) {
        min = std::min(min, DomainWatermark(*r, d).value_or(0));
      }
    }
    return min;
  }

  // Steps until every replica's watermark holds every commit so far.
  bool Converge(std::chrono::seconds timeout) {
    auto target = ::cmo::testing::CdcCommittedBelow(*app_);
    if (!target.ok()) return false;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      Step();
      if (MinWatermark() >= *target) return true;
    }
    ADD_FAILURE() << "watermark " << MinWatermark() << " < " << *target;
    return false;
  }

  void ExpectReplicasEqualSource() {
    for (auto& r : replicas_) EXPECT_EQ(::cmo::testing::CdcDiff(*app_, *r), "");
  }

  ::cmo::testing::TempDir dir_;
  std::unique_ptr<::cmo::testing::PgServer> pg_;
  std::unique_ptr<base::PgConnection> app_;
  std::unique_ptr<base::KafkaMockCluster> cluster_;
  base::KafkaConfig kafka_;
  std::vector<std::unique_ptr<store::ReplicaStore>> replicas_;
  std::vector<std::unique_ptr<Applier>> appliers_;
  CdcOptions options_;
  std::unique_ptr<CdcRelay> relay_;
};

TEST_F(CdcTest, SnapshotsTheTablesThenFollowsEveryKindOfChange) {
  ASSERT_TRUE(::cmo::testing::CreateCdcApp(*app_, 3000).ok());
  ASSERT_TRUE(StartRelay().ok());
  std::mt19937_64 rng(1);
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(::cmo::testing::CdcAppStep(*app_, rng).ok());
    if (i % 10 == 0) Step();
  }
  ASSERT_TRUE(Converge(std::chrono::seconds(60)));
  ExpectReplicasEqualSource();
  const CdcMetrics m = relay_->metrics();
  EXPECT_TRUE(m.snapshot_done);
  EXPECT_EQ(m.snapshot_rows, 3000 + 750);
  EXPECT_GT(m.transactions, 300);  // PostgreSQL sends no transaction that changed nothing
  EXPECT_GT(m.refetches, 0);
  EXPECT_EQ(m.truncates, 0);
  // Versions are commit LSNs: snapshot rows sit just below the slot's start, changes above.
  auto row = replicas_[1]->Get("comments", "2999");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_GE((*row)->lsn, m.snapshot_lsn - 1);
}

TEST_F(CdcTest, AReadYourWritesTokenFromTheAppsCommitIsHonouredByTheReplica) {
  ASSERT_TRUE(::cmo::testing::CreateCdcApp(*app_, 100).ok());
  ASSERT_TRUE(StartRelay().ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  // The app commits; its session token is the commit position read on the same connection.
  ASSERT_TRUE(app_->ExecScript("UPDATE app.comments SET body = 'mine' WHERE id = 7").ok());
  auto token = ::cmo::testing::CdcCommittedBelow(*app_);
  ASSERT_TRUE(token.ok());
  // Once the watermark reaches the token, the replica has the write: never before.
  bool reached = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!reached && std::chrono::steady_clock::now() < deadline) {
    Step();
    const int64_t w = DomainWatermark(*replicas_[0], "comments").value_or(0);
    auto row = replicas_[0]->Get("comments", "7");
    ASSERT_TRUE(row.ok() && row->has_value());
    const bool has = (*row)->value.find("\"mine\"") != std::string::npos;
    if (w >= *token) {
      EXPECT_TRUE(has) << "watermark " << w << " passed the token without the write";
      reached = true;
    }
  }
  EXPECT_TRUE(reached);
}

// The client library on a CDC-fed domain: the app writes its own table with SQL, turns the
// commit position into its session token, and reads through the client: the replica serves
// once it holds the write, the app's table (the strong path) until then; never an older value.
TEST_F(CdcTest, TheClientReadsItsOwnSqlWritesWithTokensMadeFromTheCommitPosition) {
  ASSERT_TRUE(::cmo::testing::CreateCdcApp(*app_, 100).ok());
  ASSERT_TRUE(StartRelay().ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  ::cmo::testing::ClientHarness h(base::SystemClock());
  h.SetOp("comment.read", "comments", "read_your_writes", flags::Stage::kEventual);
  ClientConfig config = h.Config();
  config.replica_url = pg_->Uri("replica");
  config.cdc_source = pg_->Uri("app");
  config.cdc_tables = options_.tables;
  config.max_wait = absl::Milliseconds(5);
  auto client = Client::Open(config);
  ASSERT_TRUE(client.ok()) << client.status();
  (*client)->Tick();
  std::string token;
  int eventual = 0, strong = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string body = absl::StrCat("edit-", i);
    ASSERT_TRUE(
        app_->ExecScript(absl::StrCat("UPDATE app.comments SET body = '", body, "' WHERE id = 7"))
            .ok());
    auto position = app_->Exec("SELECT pg_current_wal_lsn()::text");
    ASSERT_TRUE(position.ok());
    auto t = TokenAfterCommit(token, position->Text(0, 0));
    ASSERT_TRUE(t.ok()) << t.status();
    token = *t;
    if (i % 2 == 1) {  // every other write, the replica catches up before the read
      ASSERT_TRUE(cmo::testing::WaitFor(
          [&] {
            Step();
            return DomainWatermark(*replicas_[0], "comments").value_or(0) >=
                   DecodeToken(token)->lsn;
          },
          std::chrono::seconds(30), std::chrono::milliseconds(0)));
    }
    auto r = (*client)->Read("comment.read", "user-7", "7", token);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->value.has_value());
    EXPECT_NE(r->value->find("\"" + body + "\""), std::string::npos) << *r->value;
    (r->path == flags::Path::kEventual ? eventual : strong)++;
    token = r->token;
  }
  EXPECT_GT(eventual, 10);  // served locally once the replica held the write
  EXPECT_GT(strong, 10);    // from the app's table while it did not
  auto missing = (*client)->Read("comment.read", "user-7", "999999", "");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->value.has_value());
  auto write = (*client)->Write("comment.read", "user-7", "7", "x");
  EXPECT_TRUE(absl::IsFailedPrecondition(write.status())) << write.status();
}

// ALTER TABLE under a running relay: pgoutput describes the table again before its next
// change, and changes from there on carry the new column (rows not changed since keep their
// old shape on replicas: shadow/README.md).
// Shadow reads of a CDC-fed domain: the app's table (the strong path) against the replica,
// classified as for any domain: a replica row equal to the table matches; one that still
// differs after the staleness window, with the replica holding every commit before the read,
// is a divergence.
TEST_F(CdcTest, ShadowReadsCompareTheAppsTableWithTheReplica) {
  ASSERT_TRUE(::cmo::testing::CreateCdcApp(*app_, 20).ok());
  ASSERT_TRUE(StartRelay().ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  ::cmo::testing::ClientHarness h(base::SystemClock());
  h.SetOp("comment.read", "comments", "eventual", flags::Stage::kShadow, 0, 10000);
  ClientConfig config = h.Config();
  config.replica_url = pg_->Uri("replica");
  config.cdc_source = pg_->Uri("app");
  config.cdc_tables = options_.tables;
  config.staleness_window = absl::Milliseconds(50);
  config.comparators = {{"comments", "json"}};
  auto client = Client::Open(config);
  ASSERT_TRUE(client.ok()) << client.status();
  (*client)->Tick();
  auto own = store::ReplicaStore::Open(pg_->Uri("replica"), {8, false});
  ASSERT_TRUE(own.ok());
  auto eight = (*own)->Get("comments", "8");
  ASSERT_TRUE(eight.ok() && eight->has_value());
  store::Row junk = **eight;
  junk.value = "{\"id\":8,\"body\":\"not what the app wrote\"}";
  const store::ReplicaStore::Fix fix{"comments", "8", junk.lsn, junk};
  ASSERT_THAT((*own)->Repair({&fix, 1}), ::cmo::testing::IsOkAndHolds(1));
  for (const char* key : {"7", "8"}) {
    auto r = (*client)->Read("comment.read", "user-1", key);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->path, flags::Path::kStrong);  // shadow: the app's table answers
    EXPECT_NE(r->value->find("\"comment "), std::string::npos) << *r->value;
  }
  std::array<int64_t, kMismatchClasses> classes{};
  ASSERT_TRUE(::cmo::testing::WaitFor(
      [&] {
        Step();
        (*client)->RunShadowForTest(10);
        for (const OpWindow& w : (*client)->CutTelemetryForTest().ops) {
          for (size_t c = 0; c < classes.size(); ++c) classes[c] += w.classes[c];
        }
        return classes[static_cast<int>(MismatchClass::kDivergence)] >= 1;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(20)));
  EXPECT_EQ(classes[static_cast<int>(MismatchClass::kMatch)], 1);       // key 7
  EXPECT_EQ(classes[static_cast<int>(MismatchClass::kDivergence)], 1);  // key 8
}

TEST_F(CdcTest, AColumnAddedUnderTheRelayIsFollowed) {
  ASSERT_TRUE(::cmo::testing::CreateCdcApp(*app_, 10).ok());
  ASSERT_TRUE(StartRelay().ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  ASSERT_TRUE(
      app_->ExecScript("ALTER TABLE app.comments ADD COLUMN mood text; "
                       "UPDATE app.comments SET mood = 'happy' WHERE id = 3; "
                       "INSERT INTO app.comments (id, author, mood) VALUES (77, 'u', 'new')")
          .ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  for (const char* key : {"3", "77"}) {
    auto row = replicas_[0]->Get("comments", key);
    ASSERT_TRUE(row.ok() && row->has_value()) << key;
    EXPECT_NE((*row)->value.find("\"mood\":"), std::string::npos) << (*row)->value;
  }
  EXPECT_TRUE(relay_->Step(5).ok());
}

TEST_F(CdcTest, IdleTablesStillMoveTheWatermark) {
  ASSERT_TRUE(::cmo::testing::CreateCdcApp(*app_, 10).ok());
  ASSERT_TRUE(StartRelay().ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  // WAL moves for reasons of its own (another table, here): followed tables' watermarks follow.
  ASSERT_TRUE(
      app_->ExecScript("CREATE TABLE app.other (x int); INSERT INTO app.other VALUES (1)").ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
}

// The embedded cluster keeps about 5 MiB per partition and drops older records silently. A
// region stopped while more than that goes by finds its place gone when it starts again, files
// a request, and the
// relay (still running) streams again from the slot, which it never confirmed past what that
// region applied.
TEST_F(CdcTest, AChangeLogLostUnderARunningRelayIsStreamedAgainFromTheSlot) {
  ASSERT_TRUE(::cmo::testing::CreateCdcApp(*app_, 100).ok());
  ASSERT_TRUE(StartRelay().ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  // ~48 MB of changes (2 KB each) while us-east is stopped: far past what the log keeps.
  for (int round = 0; round < 6; ++round) {
    ASSERT_TRUE(app_
                    ->ExecScript(absl::StrCat(
                        "INSERT INTO app.comments SELECT g, 'bulk', repeat('x', 2000) || ", round,
                        ", ", round,
                        ", NULL, NULL, NULL FROM generate_series(10000, 14000) g ON "
                        "CONFLICT (id) DO UPDATE SET body = excluded.body, likes = excluded.likes"))
                    .ok());
    for (int i = 0; i < 200; ++i) Step(/*us_east=*/false);
  }
  appliers_[1].reset();  // us-east comes back: a new applier process reads its positions
  auto a =
      Applier::Create(*replicas_[1], kafka_, base::SystemClock(), ApplierOptionsFor("us-east"),
                      [this] { return CdcRelay::RequestRepublish(pg_->Uri("app"), options_); });
  ASSERT_TRUE(a.ok()) << a.status();
  appliers_[1] = *std::move(a);
  ASSERT_TRUE(Converge(std::chrono::seconds(120)));
  ExpectReplicasEqualSource();
  EXPECT_GT(appliers_[1]->metrics().log_resets, 0)
      << "the log was not lost: the test proves nothing";
  EXPECT_GT(relay_->metrics().republications, 0);
}

// A change versioned above the source's WAL position cannot have come from the relay: stored,
// it would outrank every real change to its row (newer-only), which would then never follow
// the table again. Both regions refuse it, and the row keeps following.
TEST_F(CdcTest, AForgedChangeAboveTheSourcesPositionIsRefused) {
  ASSERT_TRUE(::cmo::testing::CreateCdcApp(*app_, 20).ok());
  ASSERT_TRUE(StartRelay().ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  auto before = replicas_[0]->Get("comments", "7");
  ASSERT_TRUE(before.ok() && before->has_value()) << "the snapshot should hold comment 7";

  store::OutboxEntry forged;
  forged.row = **before;
  forged.row.value = R"({"id":7,"body":"forged"})";
  forged.row.lsn = int64_t{1} << 60;  // far past any WAL position this server will reach
  forged.row.commit_time = absl::Now();
  auto producer = base::KafkaProducer::Create(kafka_, nullptr);
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_THAT((*producer)->Produce(ChangeTopic("comments"), PartitionOf("7", kPartitions), "7",
                                   EncodeChange(forged), 0),
              ::cmo::testing::IsOk());
  ASSERT_THAT((*producer)->Flush(5000), ::cmo::testing::IsOk());
  ASSERT_TRUE(::cmo::testing::WaitFor(
      [&] {
        Step();
        return appliers_[0]->metrics().refused >= 1 && appliers_[1]->metrics().refused >= 1;
      },
      std::chrono::seconds(20)))
      << "refused: " << appliers_[0]->metrics().refused << ", " << appliers_[1]->metrics().refused;

  ASSERT_TRUE(app_->ExecScript("UPDATE app.comments SET body = 'edited' WHERE id = 7").ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  ExpectReplicasEqualSource();
  for (auto& r : replicas_) {
    auto row = r->Get("comments", "7");
    ASSERT_TRUE(row.ok() && row->has_value());
    EXPECT_LT((*row)->lsn, forged.row.lsn);
    EXPECT_NE((*row)->value.find("edited"), std::string::npos) << (*row)->value;
  }
}

TEST_F(CdcTest, RefusesTablesItCannotFollowSayingWhatToRun) {
  ASSERT_TRUE(app_->ExecScript("CREATE SCHEMA app; CREATE TABLE app.nokey (a int, b text);"
                               "CREATE TABLE app.comments (id bigint PRIMARY KEY, body text);")
                  .ok());
  options_.tables = {{"comments", "app.comments", {"id"}, ""}};
  absl::Status s = StartRelay();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("CREATE PUBLICATION \"cmo_cdc\" FOR TABLE \"app\".\"comments\""),
            std::string::npos)
      << s;
  options_.tables = {{"nokey", "app.nokey", {"a"}, ""}};
  s = StartRelay();
  EXPECT_NE(s.message().find("REPLICA IDENTITY FULL"), std::string::npos) << s;
  options_.tables = {{"comments", "app.comments", {"body"}, ""}};
  s = StartRelay();
  EXPECT_NE(s.message().find("replica identity is [id]"), std::string::npos) << s;
  options_.tables = {{"comments", "app.missing", {"id"}, ""}};
  s = StartRelay();
  EXPECT_NE(s.message().find("does not exist"), std::string::npos) << s;
}

// Reconciliation against the app's table: a row missing on a replica, one with another value
// and one the table no longer has are found (value digests, then the differing buckets) and,
// unless a dry run, healed from the table while the relay and appliers keep running.
TEST_F(CdcTest, ReconciliationAgainstTheAppsTableFindsAndHealsEveryClass) {
  ASSERT_TRUE(::cmo::testing::CreateCdcApp(*app_, 500).ok());
  ASSERT_TRUE(StartRelay().ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  auto own = store::ReplicaStore::Open(pg_->Uri("replica"), {8, false});  // not the applier's
  ASSERT_TRUE(own.ok()) << own.status();
  store::ReplicaStore& replica = **own;
  auto six = replica.Get("comments", "6");
  ASSERT_TRUE(six.ok() && six->has_value());
  store::Row junk = **six;
  junk.value = "{\"id\":6,\"body\":\"junk\"}";
  store::Row ghost = junk;
  ghost.key = "999999";
  const std::vector<store::ReplicaStore::Fix> damage = {
      {"comments", "5", replica.Get("comments", "5")->value().lsn, std::nullopt},
      {"comments", "6", junk.lsn, junk},
      {"comments", "999999", 0, ghost}};
  ASSERT_THAT(replica.Repair(damage), ::cmo::testing::IsOkAndHolds(3));
  ASSERT_NE(::cmo::testing::CdcDiff(*app_, replica), "");

  std::atomic<bool> stop{false};
  std::thread pipeline([&] {
    while (!stop.load()) Step();
  });
  orchestrator::CdcReconcileOptions o{.source = pg_->Uri("app"), .table = options_.tables[0]};
  o.dry_run = true;
  auto dry = orchestrator::ReconcileCdcDomain(replica, o, base::SystemClock());
  o.dry_run = false;
  auto healed = orchestrator::ReconcileCdcDomain(replica, o, base::SystemClock());
  stop = true;
  pipeline.join();
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->missing, 1);
  EXPECT_EQ(dry->divergent, 1);
  EXPECT_EQ(dry->resurrected, 1);
  EXPECT_EQ(dry->healed, 0);
  EXPECT_EQ(dry->source_rows, 500);
  ASSERT_TRUE(healed.ok()) << healed.status();
  EXPECT_EQ(healed->healed, 3);
  EXPECT_EQ(::cmo::testing::CdcDiff(*app_, replica), "");
  // And it stays healed: a later change of a healed key still reaches the replica.
  ASSERT_TRUE(app_->ExecScript("UPDATE app.comments SET body = 'after' WHERE id = 6").ok());
  ASSERT_TRUE(Converge(std::chrono::seconds(30)));
  EXPECT_EQ(::cmo::testing::CdcDiff(*app_, replica), "");
}

// `cmo plan validate --live`: each followed table checked against the database, refusals at
// the domain's line with what to run (exit 2); a valid plan names what it follows (exit 0).
TEST_F(CdcTest, PlanValidateLiveChecksTheTablesAgainstTheDatabase) {
  ASSERT_TRUE(::cmo::testing::CreateCdcApp(*app_, 10).ok());
  ASSERT_TRUE(app_->ExecScript("CREATE TABLE app.nokey (a int)").ok());
  const std::string plan = dir_.File("plan.yaml");
  auto write = [&](const std::string& domains) {
    std::ofstream(plan) << "version: 1\nname: p\ndomains:\n"
                        << domains
                        << "operations:\n  - {op: c.read, kind: read, domain: comments, class: "
                           "standard, target: eventual}\nphases:\n  - {name: p1, ops: [c.read], "
                           "steps: [dual_write, eventual]}\n";
  };
  write(
      "  - {name: comments, source: {table: app.comments, key: [id]}}\n"
      "  - {name: nokey, source: {table: app.nokey, key: [a]}}\n");
  auto bad = ::cmo::testing::Run({CMO_BINARY, "plan", "validate", plan, "--live", pg_->Uri("app")});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find(plan + ":5:5: domain nokey: table app.nokey has no primary key"),
            std::string::npos)
      << bad.err;
  EXPECT_NE(bad.err.find("ALTER PUBLICATION \"cmo_cdc\" ADD TABLE \"app\".\"nokey\""),
            std::string::npos)
      << bad.err;
  write("  - {name: comments, source: {table: app.comments, key: [id]}}\n");
  auto good =
      ::cmo::testing::Run({CMO_BINARY, "plan", "validate", plan, "--live", pg_->Uri("app")});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_NE(good.out.find("domain comments follows table app.comments"), std::string::npos)
      << good.out;
}

}  // namespace
}  // namespace cmo::shadow
