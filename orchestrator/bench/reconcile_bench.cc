#include "orchestrator/bench/reconcile_bench.h"

#include <unistd.h>

#include <filesystem>
#include <random>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "base/postgres.h"
#include "base/sqlite.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "orchestrator/bench/bench_util.h"
#include "reconcile/full_scan.h"
#include "reconcile/reconciler.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::orchestrator {
namespace {

constexpr char kDomain[] = "items";

double MsSince(BenchClock::time_point t) { return Seconds(BenchClock::now() - t) * 1000; }

// The replica is filled through its own Apply (rows and digests in its transactions); the
// primary gets the same rows and digests by a bulk copy, which is what makes 10M keys take
// minutes instead of an hour. Both are then genuine stores: equal rows, equal digests.
absl::Status Populate(const std::string& dir, const ReconcileBenchOptions& o) {
  const store::StoreOptions so{o.digest_bits, false};
  {
    CMO_ASSIGN_OR_RETURN(auto replica, store::ReplicaStore::Open(dir + "/replica.db", so));
    std::string value(100, 'v');
    std::mt19937_64 rng(o.seed);
    std::vector<store::Row> batch;
    for (int64_t k = 0; k < o.keys; ++k) {
      value[rng() % value.size()] = static_cast<char>('a' + rng() % 26);
      batch.push_back({kDomain, base::StrCat("key-", k), value, k + 1, false, absl::Now()});
      if (batch.size() == 50'000 || k + 1 == o.keys) {
        CMO_RETURN_IF_ERROR(replica->Apply(batch, {}).status());
        batch.clear();
      }
    }
  }
  {
    CMO_ASSIGN_OR_RETURN(auto primary,
                         store::PrimaryStore::Open(dir + "/primary.db", base::SystemClock(), so));
  }
  CMO_ASSIGN_OR_RETURN(auto db, base::SqliteDb::Open(dir + "/primary.db"));
  CMO_RETURN_IF_ERROR(db->ExecScript(
      "ATTACH DATABASE '" + dir +
      "/replica.db' AS r;"
      "INSERT INTO rows SELECT * FROM r.rows; INSERT INTO digests SELECT * FROM r.digests;"
      "DETACH DATABASE r;"));
  return absl::OkStatus();
}

// PostgreSQL: the same rows through the real write path — the primary commits them in
// batches (LSNs 1..keys in key order), the replica applies its outbox.
absl::Status PopulateThroughWrites(const ReconcileBenchOptions& o, store::PrimaryStore& primary,
                                   store::ReplicaStore& replica) {
  std::string value(100, 'v');
  std::mt19937_64 rng(o.seed);
  std::vector<store::WriteRequest> batch;
  int64_t applied_through = 0;
  for (int64_t k = 0; k < o.keys; ++k) {
    value[rng() % value.size()] = static_cast<char>('a' + rng() % 26);
    batch.push_back({kDomain, base::StrCat("key-", k), value, false, "bench", "bench"});
    if (batch.size() < 10'000 && k + 1 < o.keys) continue;
    CMO_RETURN_IF_ERROR(primary.Write(batch).status());
    batch.clear();
    CMO_ASSIGN_OR_RETURN(std::vector<store::OutboxEntry> out,
                         primary.ReadOutbox(applied_through, 10'000));
    std::vector<store::Row> rows;
    for (store::OutboxEntry& e : out) rows.push_back(std::move(e.row));
    if (rows.empty()) continue;
    applied_through = rows.back().lsn;
    CMO_RETURN_IF_ERROR(replica.Apply(rows, {}).status());
    CMO_RETURN_IF_ERROR(primary.TrimOutbox(applied_through));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<nlohmann::json> RunReconcileBench(const ReconcileBenchOptions& o) {
  if (o.primary_url.empty() != o.replica_url.empty()) {
    return absl::InvalidArgumentError("--primary and --replica go together");
  }
  CMO_ASSIGN_OR_RETURN(const ScopedTempDir temp, ScopedTempDir::Make(o.work_dir));
  const std::string& dir = temp.path();
  const bool postgres = !o.primary_url.empty();
  if (o.keep_data && !postgres) {
    return absl::InvalidArgumentError("--keep-data keeps PostgreSQL stores: give --primary");
  }
  store::StoreOptions so{o.digest_bits, false};
  if (postgres) {
    so.pg_schema = o.keep_data ? base::StrCat("cmo_bench_keys_", o.keys, "_bits_", o.digest_bits)
                               : base::StrCat("cmo_bench_", ::getpid());
  }
  const DropSchemas drop{postgres && !o.keep_data
                             ? std::vector<std::string>{o.primary_url, o.replica_url}
                             : std::vector<std::string>{},
                         so.pg_schema};
  auto start = BenchClock::now();
  if (!postgres) CMO_RETURN_IF_ERROR(Populate(dir, o));
  CMO_ASSIGN_OR_RETURN(auto primary,
                       store::PrimaryStore::Open(postgres ? o.primary_url : dir + "/primary.db",
                                                 base::SystemClock(), so));
  CMO_ASSIGN_OR_RETURN(
      auto replica, store::ReplicaStore::Open(postgres ? o.replica_url : dir + "/replica.db", so));
  bool reused = false;
  if (postgres && o.keep_data) {
    CMO_ASSIGN_OR_RETURN(int64_t have, replica->CountRows(kDomain));
    CMO_ASSIGN_OR_RETURN(int64_t primary_has, primary->CountRows(kDomain));
    if (have == o.keys && primary_has == o.keys) {
      reused = true;
    } else if (have != 0 || primary_has != 0) {
      return absl::FailedPreconditionError(base::StrCat(
          "schema ", so.pg_schema, " holds ", primary_has, " rows on the primary and ", have,
          " on the replica, not ", o.keys, " (an interrupted fill): drop it (DROP SCHEMA ",
          so.pg_schema, " CASCADE) on both servers and run again"));
    }
  }
  if (postgres && !reused) CMO_RETURN_IF_ERROR(PopulateThroughWrites(o, *primary, *replica));
  const double populate_s = Seconds(BenchClock::now() - start);

  reconcile::ReconcileOptions ro;
  ro.domain = kDomain;
  ro.replica_watermark = o.keys;
  ro.staleness_window = absl::ZeroDuration();
  // 1. Two stores in sync: digests only (best of 3: the first also warms the page cache).
  double digest_ms = 1e18;
  for (int i = 0; i < 3; ++i) {
    CMO_ASSIGN_OR_RETURN(reconcile::ReconcileReport r,
                         reconcile::Reconcile(*primary, *replica, ro, base::SystemClock()));
    if (!r.diffs.empty()) return absl::InternalError("stores differ before any damage");
    digest_ms = std::min(digest_ms, r.digest_compare_ms);
  }
  // 2. Corrupt `divergent` random keys on the replica (same version, other bytes).
  std::mt19937_64 rng(o.seed + 1);
  std::vector<store::ReplicaStore::Fix> damage;
  for (int i = 0; i < o.divergent; ++i) {
    const std::string key = base::StrCat("key-", rng() % static_cast<uint64_t>(o.keys));
    CMO_ASSIGN_OR_RETURN(std::optional<store::Row> row, replica->Get(kDomain, key));
    if (!row.has_value()) return absl::InternalError("populated key missing");
    store::Row bad = *row;
    bad.value = "corrupted";
    damage.push_back({kDomain, key, row->lsn, bad});
  }
  CMO_ASSIGN_OR_RETURN(int damaged, replica->Repair(damage));
  start = BenchClock::now();
  CMO_ASSIGN_OR_RETURN(reconcile::ReconcileReport healed,
                       reconcile::Reconcile(*primary, *replica, ro, base::SystemClock()));
  const double find_and_heal_ms = MsSince(start);
  CMO_ASSIGN_OR_RETURN(reconcile::ReconcileReport after,
                       reconcile::Reconcile(*primary, *replica, ro, base::SystemClock()));
  if (!after.diffs.empty()) return absl::InternalError("divergence left after healing");
  // 3. Full-scan verification of the replica's digests.
  CMO_ASSIGN_OR_RETURN(auto digests, replica->Digests(kDomain));
  CMO_ASSIGN_OR_RETURN(reconcile::FullScanReport scan,
                       reconcile::VerifyDigests(
                           [&](const std::function<void(uint32_t, const store::Row&)>& fn) {
                             return replica->Scan(kDomain, fn);
                           },
                           digests));
  // 4. Naive: read both stores in full, in order, comparing row by row.
  start = BenchClock::now();
  absl::flat_hash_map<std::string, uint64_t> replica_rows;
  replica_rows.reserve(static_cast<size_t>(o.keys));
  CMO_RETURN_IF_ERROR(replica->Scan(kDomain, [&](uint32_t, const store::Row& r) {
    replica_rows.emplace(r.key, store::RowHash(r));
  }));
  int64_t naive_diffs = 0;
  CMO_RETURN_IF_ERROR(primary->Scan(kDomain, [&](uint32_t, const store::Row& r) {
    auto it = replica_rows.find(r.key);
    naive_diffs += it == replica_rows.end() || it->second != store::RowHash(r);
  }));
  const double naive_ms = MsSince(start);
  if (naive_diffs != 0) return absl::InternalError("naive scan disagrees with reconciliation");

  nlohmann::json j;
  j["keys"] = o.keys;
  j["backend"] = postgres ? "postgresql" : "sqlite";
  j["digest_bits"] = o.digest_bits;
  j["divergent"] = damaged;
  j["populate_s"] = std::round(populate_s);
  j["reused_data"] = reused;
  j["digest_compare_ms"] = std::round(digest_ms * 10) / 10;
  j["find_and_heal_ms"] = std::round(find_and_heal_ms * 10) / 10;
  j["found"] = healed.diffs.size();
  j["healed"] = healed.healed;
  j["differing_buckets"] = healed.differing_buckets;
  j["rows_scanned"] = healed.rows_scanned;
  j["fullscan_rows_per_s"] = std::round(scan.rows_per_s);
  j["naive_ms"] = std::round(naive_ms);
  j["naive_over_find_and_heal"] = std::round(naive_ms / find_and_heal_ms * 10) / 10;
  return j;
}

}  // namespace cmo::orchestrator
