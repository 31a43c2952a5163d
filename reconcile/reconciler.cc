#include "reconcile/reconciler.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "nlohmann/json.hpp"

namespace cmo::reconcile {
namespace {

using Steady = std::chrono::steady_clock;

double MsSince(Steady::time_point t) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

bool Live(const std::optional<store::Row>& r) { return r.has_value() && !r->tombstone; }
int64_t Lsn(const std::optional<store::Row>& r) { return r.has_value() ? r->lsn : 0; }

// The union of two JSON arrays (set semantics), or nullopt if either is not one.
std::optional<std::string> MergeSets(const std::string& a, const std::string& b) {
  nlohmann::json ja = nlohmann::json::parse(a, nullptr, false);
  nlohmann::json jb = nlohmann::json::parse(b, nullptr, false);
  if (!ja.is_array() || !jb.is_array()) return std::nullopt;
  std::map<std::string, nlohmann::json> all;
  for (const auto& e : ja) all.emplace(base::JsonText(e), e);
  for (const auto& e : jb) all.emplace(base::JsonText(e), e);
  nlohmann::json out = nlohmann::json::array();
  for (auto& [k, v] : all) out.push_back(v);
  return base::JsonText(out);
}

// Decides and queues the heal of one differing key.
class Healer {
 public:
  Healer(store::PrimaryStore& primary, const ReconcileOptions& o) : primary_(primary), o_(o) {}

  absl::Status Heal(KeyDiff& d, const std::optional<store::Row>& p,
                    const std::optional<store::Row>& r) {
    if (o_.policy == HealPolicy::kLastWriterWins && Live(r) &&
        (!p.has_value() || r->commit_time > p->commit_time)) {
      d.heal = "primary <- replica";
      return WritePrimary(d, r->value);
    }
    if (o_.policy == HealPolicy::kMerge && Live(r) && Live(p)) {
      if (std::optional<std::string> merged = MergeSets(p->value, r->value)) {
        d.heal = "primary <- merge";
        return WritePrimary(d, *merged);
      }
    }
    d.heal = p.has_value() ? "replica <- primary" : "deleted on replica";
    fixes_.push_back({d.domain, d.key, Lsn(r), p});
    return absl::OkStatus();
  }

  std::vector<store::ReplicaStore::Fix>& fixes() { return fixes_; }
  int64_t primary_writes() const { return primary_writes_; }

 private:
  // A new version on the primary: it replicates to every region like any write. Written by
  // cmo's reconciliation, still about the subject whose row it was.
  absl::Status WritePrimary(const KeyDiff& d, const std::string& value) {
    const store::WriteRequest w{d.domain, d.key, value, false, "cmo.reconcile", d.subject};
    CMO_RETURN_IF_ERROR(primary_.Write({&w, 1}).status());
    ++primary_writes_;
    return absl::OkStatus();
  }

  store::PrimaryStore& primary_;
  const ReconcileOptions& o_;
  std::vector<store::ReplicaStore::Fix> fixes_;
  int64_t primary_writes_ = 0;
};

// Classifies and heals the keys of one batch of rows (a bucket, or single keys).
absl::Status ProcessKeys(const std::map<std::string, store::Row>& prows,
                         const std::map<std::string, store::Row>& rrows, const ReconcileOptions& o,
                         const base::Clock& clock, Healer& healer, ReconcileReport& report) {
  std::set<std::string> keys;
  for (const auto& [k, r] : prows) keys.insert(k);
  for (const auto& [k, r] : rrows) keys.insert(k);
  for (const std::string& key : keys) {
    std::optional<store::Row> p, r;
    if (auto it = prows.find(key); it != prows.end()) p = it->second;
    if (auto it = rrows.find(key); it != rrows.end()) r = it->second;
    std::optional<DiffClass> cls = Classify(p, r);
    if (!cls.has_value()) continue;
    KeyDiff d{o.domain,
              key,
              *cls,
              Lsn(p),
              Lsn(r),
              p.has_value() ? store::RowHash(*p) : 0,
              r.has_value() ? store::RowHash(*r) : 0,
              r.has_value() ? r->kafka_offset : -1,
              false,
              ""};
    if (const std::optional<store::Row>& writer = p.has_value() ? p : r; writer.has_value()) {
      d.op = writer->op;
      d.subject = writer->subject;
    }
    // Replication may simply not have got there yet: leave it to the applier unless it has
    // been late for longer than the staleness window.
    if (Lsn(p) > Lsn(r) && Lsn(p) > o.replica_watermark &&
        clock.Now() - p->commit_time < o.staleness_window) {
      d.in_flight = true;
      ++report.in_flight;
    } else if (!o.dry_run) {
      CMO_RETURN_IF_ERROR(healer.Heal(d, p, r));
    }
    report.diffs.push_back(std::move(d));
  }
  return absl::OkStatus();
}

absl::Status Finish(store::ReplicaStore& replica, Healer& healer, ReconcileReport& report) {
  CMO_ASSIGN_OR_RETURN(int applied, replica.Repair(healer.fixes()));
  report.raced = static_cast<int64_t>(healer.fixes().size()) - applied;
  report.healed = applied + healer.primary_writes();
  return absl::OkStatus();
}

std::map<std::string, store::Row> ByKey(std::vector<store::Row> rows) {
  std::map<std::string, store::Row> out;
  for (store::Row& r : rows) {
    std::string k = r.key;
    out.emplace(std::move(k), std::move(r));
  }
  return out;
}

// Runs `read` on the primary and, on a second thread, on the replica: they are separate stores
// (separate servers, or files), so the two waits overlap.
template <typename Read>
auto BothSides(store::PrimaryStore& primary, store::ReplicaStore& replica, Read read)
    -> absl::StatusOr<
        std::pair<typename std::invoke_result_t<Read, store::RowStore&>::value_type,
                  typename std::invoke_result_t<Read, store::RowStore&>::value_type>> {
  auto on_replica = std::async(std::launch::async, [&] { return read(replica); });
  auto p = read(primary);
  auto r = on_replica.get();
  if (!p.ok()) return p.status();
  if (!r.ok()) return r.status();
  return std::make_pair(*std::move(p), *std::move(r));
}

// Keys on one side only, or with different hashes, in key order.
std::vector<std::string> DifferingKeys(const std::vector<store::RowSummary>& primary,
                                       const std::vector<store::RowSummary>& replica) {
  absl::flat_hash_map<std::string_view, uint64_t> on_primary;
  on_primary.reserve(primary.size());
  for (const store::RowSummary& s : primary) on_primary.emplace(s.key, s.hash);
  std::vector<std::string> out;
  for (const store::RowSummary& s : replica) {
    auto it = on_primary.find(s.key);
    if (it == on_primary.end() || it->second != s.hash) out.push_back(s.key);
    if (it != on_primary.end()) on_primary.erase(it);
  }
  for (const auto& [key, hash] : on_primary) out.emplace_back(key);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

absl::Status CheckTombstoneHorizon(store::PrimaryStore& primary, const ReconcileOptions& o) {
  // A domain cmo's primary never held would make every replica row look resurrected, and
  // healing would delete them all: a typo, or a domain fed by change data capture, whose
  // source of truth is the app's own table.
  CMO_ASSIGN_OR_RETURN(std::vector<std::string> domains, primary.Domains());
  if (std::find(domains.begin(), domains.end(), o.domain) == domains.end()) {
    return absl::FailedPreconditionError(base::StrCat(
        "the primary has never held domain ", o.domain,
        ": there is nothing to reconcile against, and healing would delete the replica's rows. "
        "Check the name; a domain followed by change data capture lives in the app's own table: "
        "reconcile it with `cmo reconcile cdc`. Nothing was changed"));
  }
  CMO_ASSIGN_OR_RETURN(int64_t collected, primary.CollectedThroughLsn());
  if (collected > o.replica_watermark) {
    return absl::FailedPreconditionError(base::StrCat(
        "the replica has applied changes only through LSN ", o.replica_watermark,
        ", but tombstones through LSN ", collected,
        " were already collected on the primary: it was offline longer than the grace period and "
        "may hold rows deleted since. Digest reconciliation could not tell them apart; resync "
        "this replica in full (new empty replica file, then let the applier rebuild it)"));
  }
  return absl::OkStatus();
}

std::string_view DiffClassName(DiffClass c) {
  switch (c) {
    case DiffClass::kMissing:
      return "missing";
    case DiffClass::kStale:
      return "stale";
    case DiffClass::kDivergent:
      return "divergent";
    case DiffClass::kResurrected:
      return "resurrected";
    case DiffClass::kReplicaNewer:
      return "replica_newer";
  }
  return "unknown";
}

absl::StatusOr<HealPolicy> ParseHealPolicy(std::string_view text) {
  if (text == "primary_wins") return HealPolicy::kPrimaryWins;
  if (text == "last_writer_wins") return HealPolicy::kLastWriterWins;
  if (text == "merge") return HealPolicy::kMerge;
  return absl::InvalidArgumentError(base::StrCat(
      "unknown heal policy \"", text, "\"; use primary_wins, last_writer_wins or merge"));
}

std::string_view HealPolicyName(HealPolicy p) {
  switch (p) {
    case HealPolicy::kPrimaryWins:
      return "primary_wins";
    case HealPolicy::kLastWriterWins:
      return "last_writer_wins";
    case HealPolicy::kMerge:
      return "merge";
  }
  return "unknown";
}

std::optional<DiffClass> Classify(const std::optional<store::Row>& p,
                                  const std::optional<store::Row>& r) {
  if (p == r) return std::nullopt;
  if (!p.has_value() && !r.has_value()) return std::nullopt;
  if (Lsn(r) > Lsn(p)) {
    // A replica version the primary never had; a live one where the primary has nothing is a
    // key brought back from the dead.
    return !p.has_value() && Live(r) ? DiffClass::kResurrected : DiffClass::kReplicaNewer;
  }
  if (Lsn(r) == Lsn(p)) return DiffClass::kDivergent;
  // The replica is behind.
  if (Live(p) && !Live(r)) return DiffClass::kMissing;
  if (!Live(p) && Live(r)) return DiffClass::kResurrected;
  return DiffClass::kStale;
}

absl::StatusOr<std::vector<uint32_t>> DifferingBuckets(store::PrimaryStore& primary,
                                                       store::ReplicaStore& replica,
                                                       std::string_view domain) {
  CMO_ASSIGN_OR_RETURN(std::vector<uint64_t> pd, primary.Digests(domain));
  CMO_ASSIGN_OR_RETURN(std::vector<uint64_t> rd, replica.Digests(domain));
  if (pd.size() != rd.size()) {
    return absl::FailedPreconditionError(
        base::StrCat("primary and replica use different digest bucket counts (", pd.size(), " vs ",
                     rd.size(), "); rebuild the replica with the primary's digest_bits"));
  }
  std::vector<uint32_t> differing;
  for (size_t b = 0; b < pd.size(); ++b) {
    if (pd[b] != rd[b]) differing.push_back(static_cast<uint32_t>(b));
  }
  return differing;
}

absl::StatusOr<ReconcileReport> ReconcileBuckets(store::PrimaryStore& primary,
                                                 store::ReplicaStore& replica,
                                                 std::span<const uint32_t> buckets,
                                                 const ReconcileOptions& o,
                                                 const base::Clock& clock) {
  ReconcileReport report;
  const auto start = Steady::now();
  Healer healer(primary, o);
  // A chunk of buckets at a time, compared as one key set (keys are unique within a domain):
  // first each row's key and hash, then whole rows only for the keys that differ. A differing
  // bucket holds rows/2^bits rows of which usually one differs, so on a server store this ships
  // a few bytes per row instead of every value. Primary and replica are read side by side.
  constexpr size_t kChunk = 1024;
  for (size_t at = 0; at < buckets.size(); at += kChunk) {
    const std::span<const uint32_t> chunk =
        buckets.subspan(at, std::min(kChunk, buckets.size() - at));
    CMO_ASSIGN_OR_RETURN(auto summaries, BothSides(primary, replica, [&](store::RowStore& s) {
                           return s.SummariesInBuckets(o.domain, chunk);
                         }));
    report.rows_scanned += static_cast<int64_t>(summaries.first.size() + summaries.second.size());
    const std::vector<std::string> keys = DifferingKeys(summaries.first, summaries.second);
    if (keys.empty()) continue;
    CMO_ASSIGN_OR_RETURN(auto rows, BothSides(primary, replica, [&](store::RowStore& s) {
                           return s.RowsOfKeys(o.domain, keys);
                         }));
    CMO_RETURN_IF_ERROR(ProcessKeys(ByKey(std::move(rows.first)), ByKey(std::move(rows.second)), o,
                                    clock, healer, report));
  }
  CMO_RETURN_IF_ERROR(Finish(replica, healer, report));
  report.differing_buckets = static_cast<int64_t>(buckets.size());
  report.find_and_heal_ms = MsSince(start);
  return report;
}

absl::StatusOr<ReconcileReport> Reconcile(store::PrimaryStore& primary,
                                          store::ReplicaStore& replica, const ReconcileOptions& o,
                                          const base::Clock& clock) {
  CMO_RETURN_IF_ERROR(CheckTombstoneHorizon(primary, o));
  const auto start = Steady::now();
  CMO_ASSIGN_OR_RETURN(std::vector<uint32_t> differing,
                       DifferingBuckets(primary, replica, o.domain));
  const double digest_ms = MsSince(start);
  CMO_ASSIGN_OR_RETURN(ReconcileReport report,
                       ReconcileBuckets(primary, replica, differing, o, clock));
  report.buckets = int64_t{1} << primary.digest_bits();
  report.digest_compare_ms = digest_ms;
  return report;
}

absl::StatusOr<ReconcileReport> ReconcileKeys(store::PrimaryStore& primary,
                                              store::ReplicaStore& replica,
                                              const std::vector<std::string>& keys,
                                              const ReconcileOptions& o, const base::Clock& clock) {
  CMO_RETURN_IF_ERROR(CheckTombstoneHorizon(primary, o));
  ReconcileReport report;
  const auto start = Steady::now();
  Healer healer(primary, o);
  for (const std::string& key : keys) {
    std::map<std::string, store::Row> prows, rrows;
    CMO_ASSIGN_OR_RETURN(std::optional<store::Row> p, primary.Get(o.domain, key));
    CMO_ASSIGN_OR_RETURN(std::optional<store::Row> r, replica.Get(o.domain, key));
    if (p.has_value()) prows.emplace(key, *p);
    if (r.has_value()) rrows.emplace(key, *r);
    report.rows_scanned += static_cast<int64_t>(prows.size() + rrows.size());
    CMO_RETURN_IF_ERROR(ProcessKeys(prows, rrows, o, clock, healer, report));
  }
  CMO_RETURN_IF_ERROR(Finish(replica, healer, report));
  report.find_and_heal_ms = MsSince(start);
  return report;
}

}  // namespace cmo::reconcile
