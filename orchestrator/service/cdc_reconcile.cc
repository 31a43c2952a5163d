#include "orchestrator/service/cdc_reconcile.h"

#include <map>
#include <set>

#include "base/postgres.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "shadow/cdc_row.h"
#include "shadow/cdc_source_reader.h"
#include "shadow/cdc_tables.h"
#include "shadow/change_event.h"
#include "store/row.h"

namespace cmo::orchestrator {
namespace {

uint64_t ValueHash(std::string_view key, std::string_view value) {
  return store::RowHash(key, 0, false, value);
}

// Every row of the table in key order, `chunk` rows per query, at most `max_rows_per_s`:
// fn(key, value) for each.
absl::Status ScanTable(base::PgConnection& db, const shadow::CdcTableInfo& info,
                       const CdcReconcileOptions& o, const base::Clock& clock,
                       const std::function<void(const std::string&, const std::string&)>& fn) {
  std::optional<std::vector<std::string>> after;
  const absl::Time start = clock.Now();
  int64_t read = 0;
  for (;;) {
    if (o.max_rows_per_s > 0) {
      const absl::Duration due =
          absl::Seconds(static_cast<double>(read) / o.max_rows_per_s) - (clock.Now() - start);
      if (due > absl::ZeroDuration()) clock.SleepFor(due);
    }
    int rows = 0;
    CMO_ASSIGN_OR_RETURN(after,
                         shadow::ReadCdcChunk(db, info, after, o.chunk,
                                              [&](const std::vector<shadow::CdcColumnValue>& all) {
                                                std::vector<shadow::CdcColumnValue> key;
                                                for (int k : info.key) key.push_back(all[k]);
                                                fn(shadow::CdcKey(key), shadow::CdcRowJson(all));
                                                ++rows;
                                              }));
    read += rows;
    if (rows < o.chunk) return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<CdcReconcileReport> ReconcileCdcDomain(store::ReplicaStore& replica,
                                                      const CdcReconcileOptions& o,
                                                      const base::Clock& clock) {
  const absl::Time start = clock.Now();
  const std::string& domain = o.table.domain;
  CMO_ASSIGN_OR_RETURN(auto db, base::PgConnection::Connect(o.source));
  CMO_ASSIGN_OR_RETURN(shadow::CdcTableInfo info, shadow::DescribeCdcTable(*db, o.table));
  const int bits = replica.digest_bits();
  CdcReconcileReport report;
  report.buckets = int64_t{1} << bits;
  std::vector<uint64_t> source_sums(static_cast<size_t>(report.buckets), 0);
  std::vector<uint64_t> replica_sums(source_sums.size(), 0);
  CMO_RETURN_IF_ERROR(
      ScanTable(*db, info, o, clock, [&](const std::string& k, const std::string& v) {
        source_sums[store::DigestBucket(k, bits)] += ValueHash(k, v);
        ++report.source_rows;
      }));
  CMO_RETURN_IF_ERROR(replica.Scan(domain, [&](uint32_t bucket, const store::Row& row) {
    if (row.tombstone) return;
    replica_sums[bucket] += ValueHash(row.key, row.value);
    ++report.replica_rows;
  }));
  std::set<uint32_t> differing;
  for (size_t b = 0; b < source_sums.size(); ++b) {
    if (source_sums[b] != replica_sums[b]) differing.insert(static_cast<uint32_t>(b));
  }
  report.differing_buckets = static_cast<int64_t>(differing.size());
  if (!differing.empty()) {
    // Row by row in the differing buckets only: the table's rows of them (a second scan), and
    // the replica's.
    std::map<std::string, std::string> source, have;
    CMO_RETURN_IF_ERROR(
        ScanTable(*db, info, o, clock, [&](const std::string& k, const std::string& v) {
          if (differing.contains(store::DigestBucket(k, bits))) source[k] = v;
        }));
    for (uint32_t b : differing) {
      CMO_ASSIGN_OR_RETURN(std::vector<store::Row> rows, replica.RowsInBucket(domain, b));
      for (store::Row& r : rows) {
        if (!r.tombstone) have[r.key] = std::move(r.value);
      }
    }
    std::vector<std::pair<std::string, const char*>> found;
    for (const auto& [k, v] : source) {
      auto it = have.find(k);
      if (it == have.end()) {
        found.emplace_back(k, "missing");
      } else if (it->second != v) {
        found.emplace_back(k, "divergent");
      }
    }
    for (const auto& [k, v] : have) {
      if (!source.contains(k)) found.emplace_back(k, "resurrected");
    }
    shadow::CdcSourceReader reader(o.source, {o.table});
    for (const auto& [key, what] : found) {
      if (report.sample.size() < 20) report.sample.push_back(base::StrCat(key, ": ", what));
      // Read again by key, then wait for the replica to hold every commit below that read.
      CMO_ASSIGN_OR_RETURN(std::optional<store::Row> now, reader.Get(domain, key));
      const absl::Time deadline = clock.Now() + o.max_wait;
      int64_t watermark = 0;
      for (;;) {
        CMO_ASSIGN_OR_RETURN(watermark, shadow::DomainWatermark(replica, domain));
        if (watermark >= now->lsn || clock.Now() >= deadline) break;
        clock.SleepFor(absl::Milliseconds(50));
      }
      if (watermark < now->lsn) {
        return absl::DeadlineExceededError(
            base::StrCat("the replica of ", domain, " did not reach the source's position ",
                         now->lsn, " within ", absl::FormatDuration(o.max_wait), " (watermark ",
                         watermark, "): is its applier running? Nothing more was repaired"));
      }
      CMO_ASSIGN_OR_RETURN(std::optional<store::Row> current, replica.Get(domain, key));
      const bool live = current.has_value() && !current->tombstone;
      // A version at or past the read came from a later commit: newer than what was read.
      const bool newer = current.has_value() && current->lsn >= now->lsn;
      if (newer || (now->tombstone ? !live : (live && current->value == now->value))) {
        ++report.settled;  // it was only behind
        continue;
      }
      ++(std::string_view(what) == "missing"     ? report.missing
         : std::string_view(what) == "divergent" ? report.divergent
                                                 : report.resurrected);
      if (o.dry_run) continue;
      store::ReplicaStore::Fix fix{domain, key, current.has_value() ? current->lsn : 0, *now};
      CMO_ASSIGN_OR_RETURN(int repaired, replica.Repair({&fix, 1}));
      report.healed += repaired;
    }
  }
  report.seconds = absl::ToDoubleSeconds(clock.Now() - start);
  return report;
}

}  // namespace cmo::orchestrator
