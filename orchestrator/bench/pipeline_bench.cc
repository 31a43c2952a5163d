#include "orchestrator/bench/pipeline_bench.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "base/kafka.h"
#include "base/kafka_admin.h"
#include "base/postgres.h"
#include "base/sqlite.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "orchestrator/bench/bench_util.h"
#include "orchestrator/service/server.h"
#include "shadow/change_event.h"
#include "store/internal/pg_row_table.h"
#include "store/primary_store.h"
#include "store/store_url.h"

namespace cmo::orchestrator {
namespace {

using Clock = BenchClock;

// The workload: uniformly random keys over the key space, fixed-size values.
class Workload {
 public:
  Workload(const PipelineBenchOptions& o)
      : rng_(o.seed), keys_(o.keys), value_(o.value_bytes, 'v') {}
  std::string Key() { return base::StrCat("key-", rng_() % static_cast<uint64_t>(keys_)); }
  const std::string& Value() {
    value_[rng_() % value_.size()] = static_cast<char>('a' + rng_() % 26);
    return value_;
  }

 private:
  std::mt19937_64 rng_;
  int64_t keys_;
  std::string value_;
};

// The pipeline's measuring window: its first seconds (the first fifth, at most 5 s) are left
// out, so both the pipeline and the SQLite limit are measured on a table that has grown the
// same way for the same time. `count` is whatever is being counted (rows written, changes
// applied), read when the warm-up ends.
class MeasuringWindow {
 public:
  MeasuringWindow(const PipelineBenchOptions& o, int64_t count_at_start)
      : start_(Clock::now()),
        warm_at_(start_ + std::chrono::seconds(std::min(5, o.seconds / 5))),
        measure_start_(start_),
        count_at_warm_(count_at_start) {}
  Clock::time_point start() const { return start_; }
  // Called once per step of the measured loop.
  template <typename Count>
  void Step(const Count& count) {
    if (warm_ || Clock::now() < warm_at_) return;
    warm_ = true;
    count_at_warm_ = count();
    measure_start_ = Clock::now();
  }
  // Per second, from the end of the warm-up to now.
  double Rate(int64_t count) const {
    return static_cast<double>(count - count_at_warm_) / Seconds(Clock::now() - measure_start_);
  }

 private:
  Clock::time_point start_, warm_at_, measure_start_;
  int64_t count_at_warm_;
  bool warm_ = false;
};

// Raw batched upserts of the same workload into one SQLite store (same pragmas as the
// stores), best of several batch sizes. Each size runs as long as the pipeline does and is
// measured over the same window: on a near-empty table a batch's keys share B-tree pages, and
// a 3-second run measured that (twice the sustained rate), not the pipeline's workload.
absl::StatusOr<std::pair<double, int>> SqliteLimit(const PipelineBenchOptions& o,
                                                   const std::string& dir) {
  double best = 0;
  int best_batch = 0;
  for (int batch : {1000, 5000, 10000}) {
    const std::string path = base::StrCat(dir, "/raw-", batch, ".db");
    CMO_ASSIGN_OR_RETURN(auto db, base::SqliteDb::Open(path));
    CMO_RETURN_IF_ERROR(db->ExecScript(
        "CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL, lsn INTEGER NOT NULL) "
        "WITHOUT ROWID;"));
    CMO_ASSIGN_OR_RETURN(base::Statement * upsert,
                         db->Prepare("INSERT INTO kv (key, value, lsn) VALUES (?1, ?2, ?3) ON "
                                     "CONFLICT (key) DO UPDATE SET value = ?2, lsn = ?3"));
    Workload w(o);
    int64_t rows = 0;
    MeasuringWindow window(o, 0);
    const auto end = window.start() + std::chrono::seconds(o.seconds);
    while (Clock::now() < end) {
      window.Step([&] { return rows; });
      CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(*db));
      for (int i = 0; i < batch; ++i) {
        base::Statement::Scope s(*upsert);
        s->BindBlob(1, w.Key()).BindBlob(2, w.Value()).Bind(3, ++rows);
        CMO_RETURN_IF_ERROR(s->Run());
      }
      CMO_RETURN_IF_ERROR(txn->Commit());
    }
    const double rate = window.Rate(rows);
    if (rate > best) {
      best = rate;
      best_batch = batch;
    }
    db.reset();
    std::filesystem::remove(path);  // hundreds of MB each; the next size starts empty anyway
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
  }
  return std::make_pair(best, best_batch);
}

// Raw batched upserts of the same workload into a plain table on the replica's PostgreSQL
// server, each batch one statement (unnest of arrays, as the stores write) in its own
// transaction: what that server takes, to hold the pipeline's rate against.
absl::StatusOr<std::pair<double, int>> PgLimit(const PipelineBenchOptions& o) {
  CMO_ASSIGN_OR_RETURN(auto db, base::PgConnection::Connect(o.replica_url));
  CMO_RETURN_IF_ERROR(
      db->ExecScript("SET client_min_messages = warning; DROP TABLE IF EXISTS cmo_bench_limit; "
                     "CREATE TABLE cmo_bench_limit (key BYTEA PRIMARY KEY, value BYTEA NOT NULL, "
                     "lsn BIGINT NOT NULL)"));
  double best = 0;
  int best_batch = 0;
  for (int batch : {1000, 5000, 10000}) {
    CMO_RETURN_IF_ERROR(db->ExecScript("TRUNCATE cmo_bench_limit"));
    Workload w(o);
    int64_t rows = 0;
    MeasuringWindow window(o, 0);
    const auto end = window.start() + std::chrono::seconds(o.seconds);
    while (Clock::now() < end) {
      window.Step([&] { return rows; });
      using store::internal::PgArray;
      PgArray keys(PgArray::Type::kBytea), values(PgArray::Type::kBytea),
          lsns(PgArray::Type::kInt8);
      for (int i = 0; i < batch; ++i) {
        keys.Add(w.Key());
        values.Add(w.Value());
        lsns.Add(++rows);
      }
      // Keys repeat within a batch at small key spaces: keep each key's last version, as the
      // stores do (ON CONFLICT cannot touch a row twice in one statement).
      CMO_RETURN_IF_ERROR(
          db->Exec(store::internal::PgStatementOf(
                       "INSERT INTO cmo_bench_limit SELECT DISTINCT ON (k) k, v, l FROM "
                       "unnest($1::bytea[], $2::bytea[], $3::bigint[]) AS u(k, v, l) ORDER BY "
                       "k, l DESC ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, lsn = "
                       "EXCLUDED.lsn",
                       {std::move(keys).Done(), std::move(values).Done(), std::move(lsns).Done()}))
              .status());
    }
    const double rate = window.Rate(rows);
    if (rate > best) {
      best = rate;
      best_batch = batch;
    }
  }
  CMO_RETURN_IF_ERROR(db->ExecScript("DROP TABLE cmo_bench_limit"));
  return std::make_pair(best, best_batch);
}

// Raw produce->consume of the same messages, with the relay's producer settings (idempotent,
// acks=all): through the embedded cluster, or a topic of its own on the real one (--kafka),
// deleted afterwards.
absl::StatusOr<double> KafkaLimit(const PipelineBenchOptions& o) {
  std::unique_ptr<base::KafkaMockCluster> cluster;
  std::unique_ptr<base::KafkaAdmin> admin;
  std::string bootstrap = o.kafka;
  const std::string topic = o.kafka.empty() ? "bench" : base::StrCat("cmo.bench.", ::getpid());
  if (o.kafka.empty()) {
    CMO_ASSIGN_OR_RETURN(cluster, base::KafkaMockCluster::Start(3));
    CMO_RETURN_IF_ERROR(cluster->CreateTopic(topic, 4, 3));
    bootstrap = cluster->bootstrap_servers();
  } else {
    CMO_ASSIGN_OR_RETURN(admin, base::KafkaAdmin::Create({{"bootstrap.servers", o.kafka}}));
    CMO_RETURN_IF_ERROR(admin->CreateTopic(
        {.name = topic, .partitions = 4, .replication_factor = 1, .configs = {}}, 15000));
  }
  absl::Cleanup drop = [&] {
    if (admin != nullptr) admin->DeleteTopic(topic, 15000).IgnoreError();
  };
  const base::KafkaConfig common = {{"bootstrap.servers", bootstrap}, {"log_level", "0"}};
  base::KafkaConfig pc = common;
  pc["enable.idempotence"] = "true";
  pc["acks"] = "all";
  pc["linger.ms"] = "2";
  pc["queue.buffering.max.messages"] = "1000000";
  CMO_ASSIGN_OR_RETURN(auto producer, base::KafkaProducer::Create(pc, nullptr));
  base::KafkaConfig cc = common;
  // The applier's consumer settings, so the limit and the pipeline read Kafka the same way.
  cc["group.id"] = "bench";
  cc["enable.auto.commit"] = "false";
  cc["enable.auto.offset.store"] = "false";
  cc["fetch.wait.max.ms"] = "10";
  CMO_ASSIGN_OR_RETURN(auto consumer, base::KafkaConsumer::Create(cc));
  std::vector<base::TopicPartitionOffset> parts;
  for (int32_t p = 0; p < 4; ++p) parts.push_back({topic, p, base::kOffsetBeginning});
  CMO_RETURN_IF_ERROR(consumer->Assign(parts));
  Workload w(o);
  // Produce at most kAhead messages ahead of the consumer: the mock caps each partition's log
  // (about 5 MiB) and silently drops older records, so an unbounded producer would measure the
  // cap, not the pipe.
  constexpr int64_t kAhead = 20'000;
  const int64_t total = 300'000;
  int64_t produced = 0, consumed = 0;
  const auto start = Clock::now();
  while (consumed < total && Clock::now() - start < std::chrono::seconds(60)) {
    while (produced < total && produced - consumed < kAhead) {
      const std::string key = w.Key();
      absl::Status s = producer->Produce(topic, -1, key, w.Value(), 1);
      if (absl::IsUnavailable(s)) break;
      CMO_RETURN_IF_ERROR(s);
      ++produced;
    }
    producer->Poll(0);
    CMO_ASSIGN_OR_RETURN(auto batch, consumer->Poll(10'000, 5));
    consumed += static_cast<int64_t>(batch.size());
  }
  if (consumed < total) {
    return absl::InternalError(
        base::StrCat("kafka limit: consumed only ", consumed, " of ", total, " messages in 60 s"));
  }
  return static_cast<double>(consumed) / Seconds(Clock::now() - start);
}

}  // namespace

absl::StatusOr<nlohmann::json> RunPipelineBench(const PipelineBenchOptions& o) {
  if (o.primary_url.empty() != o.replica_url.empty()) {
    return absl::InvalidArgumentError("--primary and --replica go together");
  }
  for (const std::string* url : {&o.primary_url, &o.replica_url}) {
    if (url->empty()) continue;
    CMO_ASSIGN_OR_RETURN(store::StoreUrl parsed, store::ParseStoreUrl(*url));
    if (parsed.backend != store::StoreUrl::Backend::kPostgres) {
      return absl::InvalidArgumentError(base::StrCat(
          "--primary and --replica take postgresql:// URLs (the default is SQLite); got ",
          store::RedactStoreUrl(*url)));
    }
  }
  CMO_ASSIGN_OR_RETURN(const ScopedTempDir temp, ScopedTempDir::Make(o.work_dir));
  const std::string& dir = temp.path();
  nlohmann::json report = {{"seconds", o.seconds},
                           {"rate", o.rate == 0 ? nlohmann::json("max") : nlohmann::json(o.rate)},
                           {"keys", o.keys},
                           {"value_bytes", o.value_bytes},
                           {"batch", o.batch}};
  const bool postgres = !o.primary_url.empty();
  if (postgres) {
    report["primary"] = store::RedactStoreUrl(o.primary_url);
    report["replica"] = store::RedactStoreUrl(o.replica_url);
  }
  if (o.limits && postgres) {
    CMO_ASSIGN_OR_RETURN(auto pg, PgLimit(o));
    report["pg_limit_per_s"] = static_cast<int64_t>(pg.first);
    report["pg_best_batch"] = pg.second;
  }
  if (o.limits) {
    if (!postgres) {
      CMO_ASSIGN_OR_RETURN(auto sqlite, SqliteLimit(o, dir));
      report["sqlite_limit_per_s"] = static_cast<int64_t>(sqlite.first);
      report["sqlite_best_batch"] = sqlite.second;
    }
    // The best of three: a limit is what the pipe can do, not an unlucky run.
    double kafka = 0;
    for (int i = 0; i < 3; ++i) {
      CMO_ASSIGN_OR_RETURN(double k, KafkaLimit(o));
      kafka = std::max(kafka, k);
    }
    report["kafka_limit_per_s"] = static_cast<int64_t>(kafka);
  }

  ServeConfig config;
  config.state_dir = base::StrCat(dir, "/state");
  std::filesystem::create_directories(config.state_dir);
  config.regions = {"bench"};  // the primary and one replica, as the target assumes
  // On a real cluster a domain of this run's own: the broker keeps other runs' change logs,
  // whose LSNs would mean nothing to these stores. Its topic is deleted at the end.
  const std::string domain = o.kafka.empty() ? "bench" : base::StrCat("bench_", ::getpid());
  std::unique_ptr<base::KafkaAdmin> admin;
  if (!o.kafka.empty()) {
    config.kafka_brokers = o.kafka;
    CMO_ASSIGN_OR_RETURN(admin, base::KafkaAdmin::Create({{"bootstrap.servers", o.kafka}}));
    report["kafka"] = o.kafka;
  }
  absl::Cleanup drop_topic = [&] {
    if (admin != nullptr) admin->DeleteTopic(shadow::ChangeTopic(domain), 15000).IgnoreError();
  };
  if (o.transactional) {
    config.kafka_transactional_id = base::StrCat("cmo-bench-relay-", ::getpid());
    report["transactional"] = true;
  }
  if (postgres) {
    config.primary = o.primary_url;
    config.replicas["bench"] = o.replica_url;
  }
  CMO_ASSIGN_OR_RETURN(auto server, Server::Start(config, base::SystemClock()));
  CMO_ASSIGN_OR_RETURN(auto primary,
                       store::PrimaryStore::Open(PrimaryUrl(config), base::SystemClock()));
  Workload w(o);
  // The clock starts once one change has gone all the way through: joining the consumer group
  // and the first metadata round trips take seconds on a loaded machine, and are not the pipe.
  const std::vector<store::WriteRequest> probe = {
      {domain, w.Key(), w.Value(), false, "bench", "s"}};
  CMO_ASSIGN_OR_RETURN(const std::vector<int64_t> probe_lsns, (*primary).Write(probe));
  const int64_t first = probe_lsns.back();
  const auto ready_by = Clock::now() + std::chrono::seconds(60);
  while (server->regions()[0].watermark < first) {
    CMO_RETURN_IF_ERROR(server->error());
    if (Clock::now() > ready_by) {
      return absl::DeadlineExceededError(
          "bench pipeline: the first change did not reach the replica within 60 s (on a real "
          "cluster: cmo.changes.* topics left by other deployments or killed runs hold the "
          "replica's watermark back; delete them)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int64_t written = 0;
  int64_t last_lsn = first;
  MeasuringWindow window(o, first);
  const auto start = window.start();
  const auto end = start + std::chrono::seconds(o.seconds);
  while (Clock::now() < end) {
    window.Step([&] { return server->regions()[0].watermark; });
    if (o.rate > 0) {  // paced: never ahead of rate * elapsed
      const double due = static_cast<double>(o.rate) * Seconds(Clock::now() - start);
      if (static_cast<double>(written) >= due) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
    }
    if (o.rate == 0 && last_lsn - server->regions()[0].watermark > o.max_ahead) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    std::vector<store::WriteRequest> batch;
    // Paced runs write every ~10 ms (smaller batches), so lag measures the pipe, not the batch;
    // a writer that fell behind (a commit slower than 10 ms) writes what is due in one batch,
    // so the offered rate is the rate asked for.
    int n = o.batch;
    if (o.rate > 0) {
      const int64_t due =
          static_cast<int64_t>(static_cast<double>(o.rate) * Seconds(Clock::now() - start)) -
          written;
      n = static_cast<int>(std::clamp<int64_t>(due, o.rate / 100 + 1, o.batch));
    }
    for (int i = 0; i < n; ++i) batch.push_back({domain, w.Key(), w.Value(), false, "bench", "s"});
    CMO_ASSIGN_OR_RETURN(const std::vector<int64_t> lsns, (*primary).Write(batch));
    last_lsn = lsns.back();
    written += n;
    CMO_RETURN_IF_ERROR(server->error());
  }
  const Server::RegionStatus region = server->regions()[0];
  report["changes_per_s"] = static_cast<int64_t>(window.Rate(region.watermark));
  report["written_per_s"] =
      static_cast<int64_t>(static_cast<double>(written) / Seconds(Clock::now() - start));
  report["lag_p50_ms"] = region.applier.lag_p50_ms;
  report["lag_p95_ms"] = region.applier.lag_p95_ms;
  report["lag_p99_ms"] = region.applier.lag_p99_ms;
  if (region.applier.transactions > 0) {
    // Replica transactions shrink when the applier catches up: smaller batches cost more per
    // change (fewer shared B-tree pages), so this explains a throughput as much as the rate.
    report["applier_mean_batch"] = region.applier.applied / region.applier.transactions;
  }
  const shadow::RelayMetrics relay = server->relay_metrics();
  report["outbox_lag_at_end"] = relay.outbox_lag;
  if (o.transactional) {
    report["relay_transactions"] = relay.transactions;
    report["relay_aborted_transactions"] = relay.aborted_transactions;
  }
  if (o.limits) {
    const double limit =
        std::min(report[postgres ? "pg_limit_per_s" : "sqlite_limit_per_s"].get<double>(),
                 report["kafka_limit_per_s"].get<double>());
    report["ratio_to_min_limit"] = report["changes_per_s"].get<double>() / limit;
  }
  CMO_RETURN_IF_ERROR(server->Stop());
  return report;
}

}  // namespace cmo::orchestrator
