#include "orchestrator/bench/cdc_bench.h"

#include <atomic>
#include <filesystem>
#include <thread>

#include "base/kafka.h"
#include "base/pg_replication.h"
#include "base/postgres.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "orchestrator/bench/bench_util.h"
#include "shadow/applier.h"
#include "shadow/cdc_relay.h"
#include "shadow/change_event.h"
#include "shadow/pgoutput.h"
#include "store/replica_store.h"

namespace cmo::orchestrator {
namespace {

constexpr char kSchema[] = "cmo_bench_cdc";
constexpr char kReplicaSchema[] = "cmo_bench_cdc_replica";
constexpr char kSlot[] = "cmo_bench_cdc";
constexpr char kRawSlot[] = "cmo_bench_raw";
constexpr char kPublication[] = "cmo_bench_cdc";
constexpr int kPartitions = 4;

// Slots and the publication outlive a connection: dropped before and after the run.
absl::Status DropLeftovers(base::PgConnection& db) {
  CMO_RETURN_IF_ERROR(db.Exec("SELECT pg_drop_replication_slot(slot_name) FROM "
                              "pg_replication_slots WHERE slot_name IN ($1, $2)",
                              {kSlot, kRawSlot})
                          .status());
  return db.ExecScript(base::StrCat("DROP PUBLICATION IF EXISTS ", kPublication,
                                    "; DROP SCHEMA IF EXISTS ", kSchema, " CASCADE"));
}

// The bare reader: every row change of the slot decoded, until `changes` of them.
absl::StatusOr<double> RawDecodeSeconds(base::PgReplicationStream& stream, int64_t changes) {
  CMO_RETURN_IF_ERROR(stream.StartLogical(
      kRawSlot, 0, {{"proto_version", "1"}, {"publication_names", kPublication}}));
  const auto start = BenchClock::now();
  int64_t seen = 0;
  while (seen < changes) {
    CMO_ASSIGN_OR_RETURN(std::optional<base::PgStreamMessage> m, stream.Read(5000));
    if (!m.has_value()) {
      return absl::DeadlineExceededError(
          base::StrCat("the raw reader saw ", seen, " of ", changes, " changes"));
    }
    if (m->kind == base::PgStreamMessage::Kind::kKeepalive) {
      if (m->reply_requested) CMO_RETURN_IF_ERROR(stream.SendStatus(0, 0, false));
      continue;
    }
    CMO_ASSIGN_OR_RETURN(shadow::pgoutput::Message d, shadow::pgoutput::Decode(m->data));
    using Type = shadow::pgoutput::Message::Type;
    if (d.type == Type::kInsert || d.type == Type::kUpdate || d.type == Type::kDelete) ++seen;
  }
  return Seconds(BenchClock::now() - start);
}

// What the replica store alone accepts: the rows the replica now holds, applied again to a fresh
// store of the same kind in the applier's batches, with no Kafka and no decoding.
absl::StatusOr<double> ReplicaApplyPerSecond(const CdcBenchOptions& o,
                                             store::ReplicaStore& filled) {
  std::vector<store::Row> rows;
  CMO_RETURN_IF_ERROR(
      filled.Scan("items", [&](uint32_t, const store::Row& r) { rows.push_back(r); }));
  std::optional<ScopedTempDir> dir;
  std::string url = o.replica_url;
  if (!url.starts_with("postgres")) {
    CMO_ASSIGN_OR_RETURN(ScopedTempDir d, ScopedTempDir::Make("/tmp"));
    dir.emplace(std::move(d));
    url = dir->path() + "/limit.db";
  }
  DropSchemas drop{{}, std::string(kReplicaSchema) + "_limit"};
  if (url.starts_with("postgres")) drop.urls = {url};
  CMO_ASSIGN_OR_RETURN(auto fresh, store::ReplicaStore::Open(
                                       url, {.synchronous_full = false,
                                             .pg_schema = std::string(kReplicaSchema) + "_limit"}));
  // The same number of row writes as the pipeline made: each key twice, at two versions.
  const auto start = BenchClock::now();
  for (int pass = 0; pass < 2; ++pass) {
    for (store::Row& r : rows) r.lsn += pass;
    for (size_t at = 0; at < rows.size(); at += 10'000) {
      const size_t n = std::min<size_t>(10'000, rows.size() - at);
      CMO_RETURN_IF_ERROR(fresh->Apply({rows.data() + at, n}, {}).status());
    }
  }
  return static_cast<double>(2 * rows.size()) / Seconds(BenchClock::now() - start);
}

}  // namespace

absl::StatusOr<nlohmann::json> RunCdcBench(const CdcBenchOptions& o) {
  if (o.changes <= 0 || o.rows_per_transaction <= 0 || o.value_bytes < 0) {
    return absl::InvalidArgumentError("--changes and --rows-per-transaction must be positive");
  }
  CMO_ASSIGN_OR_RETURN(auto db, base::PgConnection::Connect(o.primary_url));
  CMO_RETURN_IF_ERROR(DropLeftovers(*db));
  DropSchemas drop_replica{{}, kReplicaSchema};
  if (o.replica_url.starts_with("postgres")) {
    drop_replica.urls = {o.replica_url};
    // A run killed before its cleanup left its replica behind: its positions are of another
    // change log.
    CMO_ASSIGN_OR_RETURN(auto r, base::PgConnection::Connect(o.replica_url));
    CMO_RETURN_IF_ERROR(
        r->ExecScript(base::StrCat("DROP SCHEMA IF EXISTS ", kReplicaSchema, " CASCADE")));
  } else if (std::filesystem::exists(o.replica_url)) {
    return absl::InvalidArgumentError(base::StrCat(
        "--replica ", o.replica_url, " exists: name a new file (the bench fills it from empty)"));
  }
  struct Cleanup {
    base::PgConnection& db;
    ~Cleanup() { (void)DropLeftovers(db); }
  } cleanup{*db};
  CMO_RETURN_IF_ERROR(db->ExecScript(base::StrCat(
      "CREATE SCHEMA ", kSchema, "; CREATE TABLE ", kSchema,
      ".items (id bigint PRIMARY KEY, v text NOT NULL, n int NOT NULL); CREATE PUBLICATION ",
      kPublication, " FOR TABLE ", kSchema, ".items")));
  CMO_ASSIGN_OR_RETURN(auto raw, base::PgReplicationStream::Connect(o.primary_url));
  CMO_RETURN_IF_ERROR(raw->CreateLogicalSlot(kRawSlot, "pgoutput").status());

  CMO_ASSIGN_OR_RETURN(auto cluster, base::KafkaMockCluster::Start(3));
  const base::KafkaConfig kafka = {{"bootstrap.servers", cluster->bootstrap_servers()},
                                   {"log_level", "0"}};
  CMO_ASSIGN_OR_RETURN(
      auto replica, store::ReplicaStore::Open(
                        o.replica_url, {.synchronous_full = false, .pg_schema = kReplicaSchema}));
  std::atomic<int64_t> applied{0};  // the applier's watermark, for the relay
  shadow::CdcOptions options;
  options.slot = kSlot;
  options.publication = kPublication;
  options.state_schema = kSchema;
  options.tables = {{"items", base::StrCat(kSchema, ".items"), {"id"}, ""}};
  // The embedded cluster keeps ~5 MiB per partition: an applier that falls further behind
  // loses its place and asks the relay to stream again from the slot (counted below).
  CMO_ASSIGN_OR_RETURN(
      auto applier,
      shadow::Applier::Create(*replica, kafka, base::SystemClock(), {.region = "bench"}, [&] {
        return shadow::CdcRelay::RequestRepublish(o.primary_url, options);
      }));
  CMO_ASSIGN_OR_RETURN(
      auto relay,
      shadow::CdcRelay::Create(
          o.primary_url, kafka,
          [&](const std::string& topic) -> absl::StatusOr<int> {
            absl::Status s = cluster->CreateTopic(topic, kPartitions, 3);
            if (!s.ok() && !absl::IsAlreadyExists(s)) return s;
            return kPartitions;
          },
          // The applier's thread publishes its watermark: its store is not the relay's to use.
          [&](const std::map<std::string, int>&) -> absl::StatusOr<int64_t> {
            return applied.load();
          },
          base::SystemClock(), options));
  while (!relay->metrics().snapshot_done) CMO_RETURN_IF_ERROR(relay->Step(10));

  // The backlog: inserts, then updates of the same keys, `rows_per_transaction` per commit.
  const int64_t keys = std::max<int64_t>(1, o.changes / 2);
  const std::string value(static_cast<size_t>(o.value_bytes), 'x');
  const auto write_start = BenchClock::now();
  for (int64_t done = 0; done < o.changes; done += o.rows_per_transaction) {
    const int64_t from = done % keys + 1;
    const int64_t to = std::min(from + o.rows_per_transaction, keys + 1) - 1;
    const int64_t rows = std::min<int64_t>(to - from + 1, o.changes - done);
    CMO_RETURN_IF_ERROR(
        db->Exec(base::StrCat("INSERT INTO ", kSchema,
                              ".items SELECT g, $1, 0 FROM "
                              "generate_series($2::bigint, $3::bigint) g ON CONFLICT (id) DO "
                              "UPDATE SET n = items.n + 1"),
                 {value, base::StrCat(from), base::StrCat(from + rows - 1)})
            .status());
    if (rows < o.rows_per_transaction) done -= o.rows_per_transaction - rows;
  }
  const double write_s = Seconds(BenchClock::now() - write_start);
  CMO_ASSIGN_OR_RETURN(base::PgResult end,
                       db->Exec("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"));
  CMO_ASSIGN_OR_RETURN(int64_t end_lsn, end.Int(0, 0));
  CMO_ASSIGN_OR_RETURN(base::PgResult size,
                       db->Exec(base::StrCat("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), "
                                             "restart_lsn)::bigint FROM pg_replication_slots "
                                             "WHERE slot_name = '",
                                             kRawSlot, "'")));
  CMO_ASSIGN_OR_RETURN(int64_t wal_bytes, size.Int(0, 0));

  CMO_ASSIGN_OR_RETURN(double raw_s, RawDecodeSeconds(*raw, o.changes));

  // End to end: the relay and the applier on threads of their own, as in `cmo serve`.
  std::atomic<bool> stop{false};
  std::atomic<bool> relay_failed{false};
  absl::Status relay_error;
  double relay_s = 0;
  const auto start = BenchClock::now();
  std::thread relay_thread([&] {
    while (!stop.load()) {
      if (absl::Status s = relay->Step(10); !s.ok()) {
        if (absl::IsUnavailable(s)) {  // the stream was cut: it resumes from the slot
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        relay_error = s;
        relay_failed = true;
        return;
      }
      if (relay_s == 0 && relay->metrics().published_through >= end_lsn - 1) {
        relay_s = Seconds(BenchClock::now() - start);
      }
    }
  });
  absl::Status waited;
  double e2e_s = 0;
  while (!relay_failed.load()) {
    if (absl::Status s = applier->Step(50); !s.ok()) {
      waited = s;
      break;
    }
    if (absl::StatusOr<int64_t> all = applier->Watermark(); all.ok()) applied = *all;
    absl::StatusOr<int64_t> w = shadow::DomainWatermark(*replica, "items");
    if (w.ok() && *w >= end_lsn - 1) {
      e2e_s = Seconds(BenchClock::now() - start);
      break;
    }
    if (Seconds(BenchClock::now() - start) > 600) {
      waited = absl::DeadlineExceededError("the replica did not catch up in 10 minutes");
      break;
    }
  }
  stop = true;
  relay_thread.join();
  CMO_RETURN_IF_ERROR(relay_error);
  CMO_RETURN_IF_ERROR(waited);
  CMO_ASSIGN_OR_RETURN(int64_t rows, replica->CountRows("items"));
  if (rows != keys) {
    return absl::InternalError(
        base::StrCat("the replica holds ", rows, " rows of items, the source ", keys));
  }
  CMO_ASSIGN_OR_RETURN(double replica_apply, ReplicaApplyPerSecond(o, *replica));
  const double raw_rate = static_cast<double>(o.changes) / raw_s;
  const double e2e_rate = static_cast<double>(o.changes) / e2e_s;
  const shadow::ApplierMetrics am = applier->metrics();
  return nlohmann::json{
      {"changes", o.changes},
      {"rows_per_transaction", o.rows_per_transaction},
      {"value_bytes", o.value_bytes},
      {"wal_bytes", wal_bytes},
      {"app_write_changes_per_s", static_cast<double>(o.changes) / write_s},
      {"raw_decode_changes_per_s", raw_rate},
      {"relay_changes_per_s", relay_s > 0 ? static_cast<double>(o.changes) / relay_s : 0.0},
      {"changes_per_s", e2e_rate},
      {"ratio", e2e_rate / raw_rate},
      {"target_ratio", 0.6},
      {"replica_apply_per_s", replica_apply},
      {"ratio_to_replica_apply", e2e_rate / replica_apply},
      {"republications", relay->metrics().republications},
      {"stream_reconnects", relay->metrics().reconnects},
      {"applier_log_resets", am.log_resets},
      {"applier_mean_batch",
       am.transactions > 0 ? static_cast<double>(am.applied) / am.transactions : 0.0},
      {"replica", o.replica_url.starts_with("postgres") ? "postgresql" : "sqlite"},
  };
}

}  // namespace cmo::orchestrator
