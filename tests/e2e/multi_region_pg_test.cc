// cmo across machines, on one machine: the primary on a throwaway PostgreSQL server in our
// network namespace (the leader), a replica server in each region's namespace (eu-west,
// us-east: own network stack, joined by veth), and the links between regions slowed to a
// long-haul latency (40 ms and 70 ms one way; see tests/fakes/delay_proxy.h for why a relay
// and not netem). `cmo serve` runs at the leader (embedded Kafka, relay, appliers, control);
// each region's app server (region_client) runs inside its namespace, reading its local
// replica and writing the remote primary. Through a replica crash, a primary crash and
// connections cut mid-batch, it must show: eventual reads served locally while strong reads
// pay the round trip; read-your-writes, monotonic reads and causal order with 0 violations;
// writes failing fast with kUnavailable while the primary is down; and at the end every
// acknowledged write on the primary and every replica equal to it, row by row.
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "base/postgres.h"
#include "flags/flag_store.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/checker/history.h"
#include "tests/fakes/delay_proxy.h"
#include "tests/fakes/netns.h"
#include "tests/fakes/pg_server.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"

namespace cmo {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::DelayProxy;
using testing::NetNamespace;
using testing::PgServer;
using testing::WaitFor;
using testing::WallMillis;

constexpr int kRunSeconds = 36;

struct Region {
  std::string name;
  absl::Duration one_way;
  std::unique_ptr<NetNamespace> ns;
  std::unique_ptr<PgServer> db;
  std::unique_ptr<DelayProxy> to_primary;  // the region's app -> the leader's primary
  std::unique_ptr<DelayProxy> to_replica;  // the leader's applier -> the region's replica
  std::string history;
  nlohmann::json summary;
};

std::string PgUrl(const std::string& host, int port, const std::string& app = "cmo") {
  return "postgresql://cmo@" + host + ":" + std::to_string(port) +
         "/postgres?application_name=" + app;
}

void RegisterOps(const std::string& state_dir) {
  auto flags = flags::FlagStore::Open(shadow::ControlDbPath(state_dir), base::SystemClock());
  ASSERT_TRUE(flags.ok()) << flags.status();
  const flags::ChangeContext ctx{"test", "multi-region run", "add", false};
  // comment.read: every session on the eventual path with read-your-writes; comment.audit and
  // comment.post: strong.
  for (const auto& [op, ramp] : {std::pair{"comment.post", 0}, std::pair{"comment.read", 10000},
                                 std::pair{"comment.audit", 0}}) {
    const int bp = ramp;  // clang 14 lambdas cannot capture structured bindings
    flags::Flag f;
    f.op = op;
    f.domain = "comments";
    f.target = *flags::ParseTarget("read_your_writes");
    ASSERT_TRUE((*flags)->Add(f, ctx).ok());
    ASSERT_TRUE((*flags)
                    ->Update(op, ctx,
                             [&](flags::Flag& fl) {
                               fl.stage = bp > 0 ? flags::Stage::kRamp : flags::Stage::kStrong;
                               fl.ramp_bp = bp;
                               return absl::OkStatus();
                             })
                    .ok());
  }
}

// Every row of `domain`, for comparing stores row by row.
std::map<std::string, store::Row> Rows(
    const std::function<absl::Status(const std::function<void(uint32_t, const store::Row&)>&)>&
        scan) {
  std::map<std::string, store::Row> out;
  const absl::Status s = scan([&](uint32_t, const store::Row& r) { out[r.key] = r; });
  if (!s.ok()) out.clear();
  return out;
}

// Terminates the applier's backends on `db` that are inside a transaction; how many.
int CutApplierMidBatch(PgServer& db) {
  auto conn = base::PgConnection::Connect(db.Uri());
  if (!conn.ok()) return 0;
  auto r = (*conn)->Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'cmo-applier' AND xact_start IS NOT NULL");
  return r.ok() ? r->rows() : 0;
}

TEST(MultiRegionPgTest, LocalReadsGuaranteesAndNothingLostThroughCrashesAndCuts) {
  testing::TempDir dir;
  const std::string state = dir.path() + "/state";
  std::filesystem::create_directories(state);
  auto primary = PgServer::Start();
  ASSERT_TRUE(primary.ok()) << primary.status();
  std::vector<Region> regions(2);
  regions[0].name = "eu-west";
  regions[0].one_way = absl::Milliseconds(40);
  regions[1].name = "us-east";
  regions[1].one_way = absl::Milliseconds(70);
  for (size_t i = 0; i < regions.size(); ++i) {
    Region& r = regions[i];
    auto ns = NetNamespace::Create(r.name.substr(0, 2), static_cast<int>(i) + 1);
    ASSERT_TRUE(ns.ok()) << ns.status();
    r.ns = *std::move(ns);
    auto db = PgServer::Start({.netns = r.ns->name(), .listen = r.ns->host_ip()});
    ASSERT_TRUE(db.ok()) << db.status();
    r.db = *std::move(db);
    auto up = DelayProxy::Start(r.ns->root_ip(), "127.0.0.1", (*primary)->port(), r.one_way);
    auto down = DelayProxy::Start("127.0.0.1", r.ns->host_ip(), r.db->port(), r.one_way);
    ASSERT_TRUE(up.ok() && down.ok());
    r.to_primary = *std::move(up);
    r.to_replica = *std::move(down);
    r.history = dir.path() + "/history-" + r.name + ".jsonl";
  }
  RegisterOps(state);
  const std::string primary_url = PgUrl("127.0.0.1", (*primary)->port(), "cmo-relay");
  {
    std::ofstream config(dir.path() + "/serve.yaml");
    config << "state_dir: " << state << "\nlisten: ''\nkafka: {brokers: embedded, partitions: 4}\n"
           << "primary: '" << primary_url << "'\nregions:\n";
    for (const Region& r : regions) {
      config << "  - {name: " << r.name << ", replica: '"
             << PgUrl("127.0.0.1", r.to_replica->port(), "cmo-applier") << "'}\n";
    }
  }
  Child serve({CMO_BINARY, "serve", "--config", dir.path() + "/serve.yaml"});
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(shadow::BootstrapPath(state)); }, 60s))
      << "cmo serve did not start";
  ASSERT_TRUE(std::filesystem::exists(state + "/stores")) << "role all records the store URLs";

  std::vector<std::unique_ptr<Child>> clients;
  for (const Region& r : regions) {
    std::vector<std::string> argv = r.ns->Exec();
    for (const std::string& a :
         {std::string(CMO_REGION_CLIENT), std::string("--state-dir"), state,
          std::string("--region"), r.name, std::string("--primary-url"),
          PgUrl(r.ns->root_ip(), r.to_primary->port()), std::string("--replica-url"),
          PgUrl("127.0.0.1", r.db->port()), std::string("--seconds"), std::to_string(kRunSeconds),
          std::string("--history"), r.history}) {
      argv.push_back(a);
    }
    clients.push_back(std::make_unique<Child>(argv));
  }

  // The faults, on a timeline under load.
  Region& eu = regions[0];
  std::this_thread::sleep_for(8s);
  const int64_t replica_down = WallMillis();
  eu.db->Crash();  // pg_ctl stop -m immediate
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(eu.db->Restart().ok());
  const int64_t replica_up = WallMillis();
  std::this_thread::sleep_for(5s);
  const int64_t primary_down = WallMillis();
  (*primary)->Crash();
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE((*primary)->Restart().ok());
  const int64_t primary_up = WallMillis();
  std::this_thread::sleep_for(4s);
  int cuts = 0;
  for (int i = 0; i < 40 && cuts < 3; ++i) {  // pg_terminate_backend in the middle of a batch
    cuts += CutApplierMidBatch(*eu.db);
    std::this_thread::sleep_for(150ms);
  }
  std::printf("cut %d applier connections in the middle of a transaction\n", cuts);
  EXPECT_GE(cuts, 1) << "no applier transaction was caught in flight";

  for (size_t i = 0; i < regions.size(); ++i) {
    std::optional<std::string> line = clients[i]->ReadLine();
    ASSERT_EQ(clients[i]->Wait(), 0) << regions[i].name << " client failed";
    ASSERT_TRUE(line.has_value());
    regions[i].summary = nlohmann::json::parse(*line);
    nlohmann::json shown = regions[i].summary;  // the failure times as counts
    for (const char* key : {"read_failures_ms", "write_failures_ms"})
      shown[key] = shown[key].size();
    std::printf("%s: %s\n", regions[i].name.c_str(), shown.dump().c_str());
  }

  // Nothing lost: the replicas converge to the primary, row by row.
  auto p = store::PrimaryStore::Open((*primary)->Uri(), base::SystemClock());
  ASSERT_TRUE(p.ok()) << p.status();
  const auto primary_rows = Rows([&](const auto& fn) { return (*p)->Scan("comments", fn); });
  ASSERT_FALSE(primary_rows.empty());
  for (Region& r : regions) {
    auto replica = store::ReplicaStore::Open(r.db->Uri());
    ASSERT_TRUE(replica.ok()) << replica.status();
    std::map<std::string, store::Row> rows;
    const bool converged = WaitFor(
        [&] {
          rows = Rows([&](const auto& fn) { return (*replica)->Scan("comments", fn); });
          return rows == primary_rows;
        },
        90s, 500ms);
    EXPECT_TRUE(converged) << r.name << " has " << rows.size() << " rows, the primary "
                           << primary_rows.size();
    EXPECT_EQ(*(*replica)->Digests("comments"), *(*p)->Digests("comments")) << r.name;
  }
  EXPECT_EQ(::waitpid(serve.pid(), nullptr, WNOHANG), 0) << "cmo serve died on a store fault";

  for (Region& r : regions) {
    const nlohmann::json& s = r.summary;
    std::ifstream in(r.history);
    std::stringstream text;
    text << in.rdbuf();
    auto ops = checker::ParseHistory(text.str());
    ASSERT_TRUE(ops.ok()) << ops.status();
    const auto violations = checker::CheckHistory(*ops, {true, true, true});
    for (const auto& v : violations)
      ADD_FAILURE() << r.name << " " << v.guarantee << ": " << v.message;
    // Every acknowledged write is on the primary (at that version or a later one).
    int acked = 0;
    for (const checker::HistoryOp& op : *ops) {
      if (op.type != "ok" || op.f != "write") continue;
      ++acked;
      auto it = primary_rows.find(op.key);
      ASSERT_NE(it, primary_rows.end()) << "acknowledged write lost: " << op.key;
      EXPECT_GE(it->second.lsn, op.lsn) << "acknowledged write lost: " << op.key;
    }
    std::printf("%s: %d acknowledged writes all on the primary; %zu violations\n", r.name.c_str(),
                acked, violations.size());
    EXPECT_GT(acked, 20);
    EXPECT_EQ(s["other_failures"], 0) << s["first_other_failure"];
    // The benefit: the eventual path is served in the region, the strong path crosses to the
    // leader (a round trip is 2 x one way).
    const double rtt_ms = 2 * absl::ToDoubleMilliseconds(r.one_way);
    EXPECT_LT(s["eventual_p50_ms"].get<double>(), rtt_ms / 4) << r.name;
    EXPECT_GE(s["strong_p50_ms"].get<double>(), rtt_ms) << r.name;
    // While the primary was down, and only then (plus the reconnect after it came back),
    // writes and reads failed — fast, with kUnavailable.
    EXPECT_GT(s["write_failures_ms"].size(), 0u) << r.name;
    // Bounded by the connect timeout (5 s): a down primary is never waited on longer, whatever
    // the load (a failed write pays the round trip, sometimes a reconnect attempt).
    EXPECT_LT(s["write_fail_max_ms"].get<double>(), 5000) << r.name;
    for (const auto* key : {"write_failures_ms", "read_failures_ms"}) {
      for (const auto& t : s[key]) {
        EXPECT_GE(t.get<int64_t>(), primary_down) << r.name << " " << key;
        EXPECT_LE(t.get<int64_t>(), primary_up + 3000) << r.name << " " << key;
      }
    }
  }
  // eu-west's replica was down: its reads fell back to the primary instead of failing.
  EXPECT_GT(eu.summary["fallbacks"].get<int64_t>(), 0);
  std::printf("eu-west replica down %lld ms; primary down %lld ms\n",
              static_cast<long long>(replica_up - replica_down),
              static_cast<long long>(primary_up - primary_down));
  serve.Kill(SIGTERM);
  serve.Wait();
}

}  // namespace
}  // namespace cmo
