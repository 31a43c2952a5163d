// Reconciliation of one domain between the primary and one region's replica: compare the
// per-bucket digests (2^bits numbers each side, kept up to date by every write), scan only the
// buckets that differ, classify each differing key and heal it by the domain's policy. Its cost
// follows the divergence, not the table size.
//
// Classes (primary row P, replica row R; "live" = present and not a tombstone):
//   missing        P live, R absent (or a tombstone older than P)
//   stale          both versions exist, R older than P (lag) — left alone while P is above the
//                  replica's watermark (in flight) and younger than the staleness window
//   divergent      same version, other bytes
//   resurrected    P deleted (or absent), R live
//   replica_newer  R's version is above P's: a version the primary never had (a conflict)
#ifndef CMO_RECONCILE_RECONCILER_H_
#define CMO_RECONCILE_RECONCILER_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::reconcile {

enum class DiffClass { kMissing, kStale, kDivergent, kResurrected, kReplicaNewer };
std::string_view DiffClassName(DiffClass c);

// primary_wins (default): the replica takes the primary's row. last_writer_wins: the row with the
// later commit time wins; a replica row that wins is written to the primary as a new version
// (so it replicates everywhere). merge: set-valued domains (JSON arrays) — the union is written
// to the primary as a new version.
enum class HealPolicy { kPrimaryWins, kLastWriterWins, kMerge };
absl::StatusOr<HealPolicy> ParseHealPolicy(std::string_view text);
std::string_view HealPolicyName(HealPolicy p);

struct KeyDiff {
  std::string domain;
  std::string key;
  DiffClass diff_class = DiffClass::kDivergent;
  int64_t primary_lsn = 0;  // 0: absent
  int64_t replica_lsn = 0;
  uint64_t primary_hash = 0;  // RowHash of each side's row (0: absent): digests, never values
  uint64_t replica_hash = 0;
  int64_t replica_offset = -1;  // change-topic offset of the event that wrote the replica row
  bool in_flight = false;       // explained by replication not yet done: left alone
  std::string heal;             // what was done: "replica <- primary", "deleted on replica",
                                // "primary <- replica", "primary <- merge", "" (not healed)
  // Who last wrote the key (the primary row's writer; the replica's when the primary has no
  // row): what lets support find the damage by user.
  std::string op = {};
  std::string subject = {};
};

// Classifies two rows of one key that differ; nullopt when they do not.
std::optional<DiffClass> Classify(const std::optional<store::Row>& primary,
                                  const std::optional<store::Row>& replica);

struct ReconcileOptions {
  std::string domain;
  HealPolicy policy = HealPolicy::kPrimaryWins;
  bool dry_run = false;           // find and classify, change nothing
  int64_t replica_watermark = 0;  // versions above it may still be in flight
  absl::Duration staleness_window = absl::Seconds(30);
};

struct ReconcileReport {
  int64_t buckets = 0;  // digest buckets compared
  int64_t differing_buckets = 0;
  int64_t rows_scanned = 0;  // rows read from both sides in differing buckets
  std::vector<KeyDiff> diffs;
  int64_t healed = 0;
  int64_t in_flight = 0;
  int64_t raced = 0;  // fixes skipped because the replica row moved meanwhile
  double digest_compare_ms = 0;
  double find_and_heal_ms = 0;
};

// Not thread-safe in itself; the stores may be written concurrently by the relay, appliers and
// the app (repairs are compare-and-set on the replica's row version).
absl::StatusOr<ReconcileReport> Reconcile(store::PrimaryStore& primary,
                                          store::ReplicaStore& replica,
                                          const ReconcileOptions& options,
                                          const base::Clock& clock);

// kFailedPrecondition when the primary collected tombstones the replica never applied (it was
// offline past the grace period): digests cannot repair it safely; it needs a full resync.
absl::Status CheckTombstoneHorizon(store::PrimaryStore& primary, const ReconcileOptions& options);

// The two halves of Reconcile, for checkpointed, throttled jobs: the buckets whose digests
// differ, then the classification and healing of some of them.
absl::StatusOr<std::vector<uint32_t>> DifferingBuckets(store::PrimaryStore& primary,
                                                       store::ReplicaStore& replica,
                                                       std::string_view domain);
absl::StatusOr<ReconcileReport> ReconcileBuckets(store::PrimaryStore& primary,
                                                 store::ReplicaStore& replica,
                                                 std::span<const uint32_t> buckets,
                                                 const ReconcileOptions& options,
                                                 const base::Clock& clock);

// Heals single keys at once (shadow comparison found them), without a digest pass.
absl::StatusOr<ReconcileReport> ReconcileKeys(store::PrimaryStore& primary,
                                              store::ReplicaStore& replica,
                                              const std::vector<std::string>& keys,
                                              const ReconcileOptions& options,
                                              const base::Clock& clock);

}  // namespace cmo::reconcile

#endif  // CMO_RECONCILE_RECONCILER_H_
