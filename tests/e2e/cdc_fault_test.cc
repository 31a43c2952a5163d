// Change data capture under faults, through `cmo serve` as operators run it (relay, embedded
// Kafka and appliers in one process, a PostgreSQL and an SQLite replica) while an app writes
// plain SQL to its own tables on a real PostgreSQL server: the whole serve process is killed
// with SIGKILL (its Kafka log dies with it), the replication connection is cut
// (pg_terminate_backend), and the database server restarts. At the end every replica equals the
// source tables row by row and the slot holds back little WAL again.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/postgres.h"
#include "gtest/gtest.h"
#include "shadow/change_event.h"
#include "store/replica_store.h"
#include "tests/e2e/cdc_app.h"
#include "tests/fakes/pg_server.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"

namespace cmo {
namespace {

using namespace std::chrono_literals;
using ::cmo::testing::Child;
using ::cmo::testing::WaitFor;

class CdcFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = ::cmo::testing::StartCdcServer();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    auto app = base::PgConnection::Connect(pg_->Uri("app"));
    ASSERT_TRUE(app.ok()) << app.status();
    ASSERT_TRUE(::cmo::testing::CreateCdcApp(**app, 5000).ok());
    std::ofstream(dir_.File("plan.yaml")) << R"(version: 1
name: app-cdc
domains:
  - {name: comments, source: {table: app.comments, key: [id], subject: author}}
  - {name: follows, source: {table: app.follows, key: [follower, followee]}}
operations:
  - {op: comment.list, kind: read, domain: comments, class: standard, target: eventual}
phases:
  - {name: p1, ops: [comment.list], steps: [dual_write, shadow, eventual]}
)";
    WriteConfig();
  }

  void WriteConfig() {
    std::ofstream(dir_.File("cmo.yaml"))
        << "state_dir: " << dir_.File("state") << "\nlisten: 127.0.0.1:0\n"
        << "regions: [{name: eu-west, replica: " << pg_->Uri("replica")
        << "}, {name: us-east, replica: " << dir_.File("us-east.db") << "}]\n"
        << "cdc: {source: " << pg_->Uri("app") << ", plan: plan.yaml" << cdc_extra_ << "}\n";
  }

  // One part of the data path, as its own process on the same config (role kafka, relay or
  // applier).
  std::unique_ptr<Child> StartRole(const std::string& role) {
    return std::make_unique<Child>(std::vector<std::string>{CMO_BINARY, "serve", "--config",
                                                            dir_.File("cmo.yaml"), "--role", role,
                                                            "--status-interval", "1s"});
  }

  std::unique_ptr<Child> StartServe() {
    std::filesystem::remove(dir_.File("state") + "/kafka.bootstrap");
    auto serve = std::make_unique<Child>(std::vector<std::string>{
        CMO_BINARY, "serve", "--config", dir_.File("cmo.yaml"), "--status-interval", "1s"});
    EXPECT_TRUE(WaitFor(
        [&] { return std::filesystem::exists(dir_.File("state") + "/kafka.bootstrap"); }, 30s));
    return serve;
  }

  // The app: plain SQL transactions until stopped, on a connection of its own that it makes
  // again whenever the server went away (its failed transactions never committed).
  void StartApp() {
    app_ = std::thread([this] {
      std::mt19937_64 rng(7);
      std::unique_ptr<base::PgConnection> db;
      while (!stop_.load()) {
        if (db == nullptr || !db->ok()) {
          auto c = base::PgConnection::Connect(pg_->Uri("app"));
          if (!c.ok()) {
            std::this_thread::sleep_for(100ms);
            continue;
          }
          db = *std::move(c);
        }
        if (::cmo::testing::CdcAppStep(*db, rng).ok()) ++committed_;
        std::this_thread::sleep_for(2ms);
      }
    });
  }

  int64_t MinWatermark(std::vector<std::unique_ptr<store::ReplicaStore>>& replicas) {
    int64_t min = INT64_MAX;
    for (auto& r : replicas) {
      for (const char* d : {"comments", "follows"}) {
        min = std::min(min, shadow::DomainWatermark(*r, d).value_or(0));
      }
    }
    return min;
  }

  void TearDown() override {
    stop_ = true;
    if (app_.joinable()) app_.join();
  }

  // Every replica equals the source once the app stopped and the watermarks hold its last commit.
  void ExpectConverged() {
    auto app = base::PgConnection::Connect(pg_->Uri("app"));
    ASSERT_TRUE(app.ok());
    auto target = ::cmo::testing::CdcCommittedBelow(**app);
    ASSERT_TRUE(target.ok());
    std::vector<std::unique_ptr<store::ReplicaStore>> replicas;
    for (const std::string& url : {pg_->Uri("replica"), dir_.File("us-east.db")}) {
      auto r = store::ReplicaStore::Open(url);
      ASSERT_TRUE(r.ok()) << r.status();
      replicas.push_back(*std::move(r));
    }
    ASSERT_TRUE(WaitFor([&] { return MinWatermark(replicas) >= *target; }, 120s, 250ms))
        << "watermark " << MinWatermark(replicas) << " < " << *target << Watermarks(replicas);
    for (auto& r : replicas) EXPECT_EQ(::cmo::testing::CdcDiff(**app, *r), "");
  }

  static std::string Watermarks(std::vector<std::unique_ptr<store::ReplicaStore>>& replicas) {
    std::string out;
    for (size_t i = 0; i < replicas.size(); ++i) {
      for (const char* d : {"comments", "follows"}) {
        out += "\n  replica " + std::to_string(i) + " " + d + ": " +
               std::to_string(shadow::DomainWatermark(*replicas[i], d).value_or(-1)) + " rows " +
               std::to_string(replicas[i]->CountRows(d).value_or(-1));
      }
    }
    return out;
  }

  ::cmo::testing::TempDir dir_;
  std::string cdc_extra_;  // more `cdc:` settings
  std::unique_ptr<::cmo::testing::PgServer> pg_;
  std::thread app_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> committed_{0};
};

TEST_F(CdcFaultTest, NothingIsLostThroughKillsCutsAndARestartOfTheDatabase) {
  auto serve = StartServe();
  StartApp();
  auto after = [&](int64_t more) {
    const int64_t until = committed_.load() + more;
    ASSERT_TRUE(WaitFor([&] { return committed_.load() >= until; }, 60s));
  };
  // kill -9 twice under load: the embedded Kafka's log goes with the process, so what the
  // replicas had not applied must come again from the slot.
  for (int kill = 0; kill < 2; ++kill) {
    after(300);
    serve->Kill(SIGKILL);
    EXPECT_EQ(serve->Wait(), -SIGKILL);
    after(100);  // the app goes on while the relay is down
    serve = StartServe();
  }
  // The replication connection is cut mid-stream.
  after(300);
  auto admin = base::PgConnection::Connect(pg_->Uri("postgres"));
  ASSERT_TRUE(admin.ok());
  // (Streaming starts once the snapshot is through: a start that finds a region short of it
  // snapshots again.)
  ASSERT_TRUE(WaitFor(
      [&] {
        auto cut = (*admin)->Exec(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type "
            "= 'walsender'");
        return cut.ok() && cut->Text(0, 0) == "1";
      },
      60s));
  // The database server restarts (fast shutdown: every connection is dropped).
  after(300);
  pg_->Stop();
  std::this_thread::sleep_for(2s);
  ASSERT_TRUE(pg_->Restart().ok());
  after(300);
  stop_ = true;
  app_.join();

  ExpectConverged();
  auto app = base::PgConnection::Connect(pg_->Uri("app"));
  ASSERT_TRUE(app.ok());
  // Slot lag back under its bound: the slot confirmed what every region applied.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto lag = (*app)->Exec(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM "
            "pg_replication_slots WHERE slot_name = 'cmo_cdc'");
        return lag.ok() && lag->rows() == 1 && lag->Int(0, 0).value_or(INT64_MAX) < (16 << 20);
      },
      30s, 250ms));
  // What the CDC alerts (deploy/prometheus/cmo-alerts.yaml) read is served, and says the slot
  // is within its limit.
  std::string url;
  std::getline(std::ifstream(dir_.File("state") + "/api-url"), url);
  const ::cmo::testing::RunResult metrics =
      ::cmo::testing::Run({"/usr/bin/curl", "-sf", url + "/metrics"});
  ASSERT_EQ(metrics.exit_code, 0) << url;
  for (const char* family : {"cmo_cdc_retained_wal_exceeded 0", "cmo_cdc_truncates_total 0",
                             "cmo_cdc_retained_wal_bytes ", "cmo_cdc_snapshot_done 1"}) {
    EXPECT_NE(metrics.out.find(std::string("\n") + family), std::string::npos) << family;
  }
  serve->Kill(SIGTERM);
  EXPECT_EQ(serve->Wait(), 0);
  std::printf("app transactions committed: %lld\n", static_cast<long long>(committed_.load()));
}

// The initial snapshot, throttled to 2,000 rows/s, its relay killed with SIGKILL halfway (Kafka
// and the appliers are processes of their own, so the rows sent survive): the next relay resumes
// after the last chunk Kafka acknowledged, not from the first row, in a new snapshot, while the
// app keeps writing; the replicas still end equal to the tables.
TEST_F(CdcFaultTest, ASnapshotKilledHalfwayResumesWhereItStopped) {
  cdc_extra_ = ", snapshot_rows_per_s: 2000";
  WriteConfig();
  std::filesystem::create_directories(dir_.File("state"));
  auto kafka = StartRole("kafka");
  ASSERT_TRUE(WaitFor(
      [&] { return std::filesystem::exists(dir_.File("state") + "/kafka.bootstrap"); }, 30s));
  auto appliers = StartRole("applier");
  auto relay = StartRole("relay");
  auto db = base::PgConnection::Connect(pg_->Uri("app"));
  ASSERT_TRUE(db.ok());
  auto progress = [&]() -> int64_t {  // rows of comments the snapshot has recorded
    auto r = (*db)->Exec(
        "SELECT COALESCE((after_key::jsonb->>0)::bigint, 0) FROM cmo.cdc_snapshot WHERE "
        "table_name = 'app.comments'");
    return r.ok() && r->rows() == 1 ? r->Int(0, 0).value_or(0) : 0;
  };
  ASSERT_TRUE(WaitFor([&] { return progress() >= 1500; }, 30s));
  StartApp();
  relay->Kill(SIGKILL);
  EXPECT_EQ(relay->Wait(), -SIGKILL);
  const int64_t at_kill = progress();
  EXPECT_LT(at_kill, 5000) << "the snapshot was through before the kill: the test proves nothing";
  relay = StartRole("relay");
  // It goes on from there: the recorded progress never falls back below the kill point.
  int64_t lowest = INT64_MAX;
  ASSERT_TRUE(WaitFor(
      [&] {
        lowest = std::min(lowest, progress());
        auto r = (*db)->Exec("SELECT bool_and(done) FROM cmo.cdc_snapshot");
        return r.ok() && r->Text(0, 0) == "t";
      },
      60s, 10ms));
  EXPECT_GE(lowest, at_kill);
  stop_ = true;
  app_.join();
  ExpectConverged();
  for (auto* c : {&relay, &appliers, &kafka}) {
    (*c)->Kill(SIGTERM);
    EXPECT_EQ((*c)->Wait(), 0);
  }
}

}  // namespace
}  // namespace cmo
