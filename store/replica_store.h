// A regional replica: rows applied from change events only when newer than what it holds, and
// the position reached on every change-topic partition, committed in the same transaction as
// the rows — so replaying events (after a crash, a duplicate delivery, a re-publication) is
// harmless, and the replica knows exactly where it is.
#ifndef CMO_STORE_REPLICA_STORE_H_
#define CMO_STORE_REPLICA_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/primary_store.h"
#include "store/row.h"
#include "store/row_store.h"

namespace cmo::store {

// Where an applier is on one partition of one change topic.
struct PartitionProgress {
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = 0;  // the Kafka offset to consume next
  int64_t max_lsn = 0;      // highest LSN seen on this partition (events and heartbeats)
  // The re-publication request (PrimaryStore::RequestRepublish) this partition waits for, 0
  // when none: its log was found lost, so what it holds proves nothing until the relay's
  // answer arrives, and max_lsn stays where it was (shadow/applier.h). Stored in the column
  // last_seq, which held an unused sequence number before: no schema change.
  int64_t awaiting_republish = 0;
  bool operator==(const PartitionProgress&) const = default;
};

struct ApplyStats {
  int applied = 0;        // rows written
  int stale = 0;          // rows ignored because the replica already had that LSN or a newer one
  int below_horizon = 0;  // older than the tombstone horizon for an absent key: refused
};

// min over `partitions` of the highest LSN `progress` records for each (0 for one never seen):
// the watermark, the same for every backend.
int64_t WatermarkOf(std::span<const PartitionProgress> progress,
                    std::span<const std::pair<std::string, int32_t>> partitions);

// The replica side of a store: SQLite (SqliteReplicaStore) or PostgreSQL (PgReplicaStore), chosen
// by the URL given to Open (see PrimaryStore::Open). Not thread-safe: one per thread.
class ReplicaStore : public RowStore {
 public:
  static absl::StatusOr<std::unique_ptr<ReplicaStore>> Open(const std::string& url,
                                                            const StoreOptions& options = {});
  ~ReplicaStore() override = default;

  // In one transaction: writes every row whose LSN is newer than the stored one (a tombstone
  // is a row, so an older write arriving late never resurrects a deleted key) and records
  // `progress`.
  virtual absl::StatusOr<ApplyStats> Apply(std::span<const Row> rows,
                                           std::span<const PartitionProgress> progress) = 0;

  // Reconciliation's repair, in one transaction: for each fix, if the replica's row of that
  // key still has version `expected_lsn` (0: still absent) — i.e. nothing was applied since the
  // reconciler looked — replace it with `row`, or delete it when `row` is nullopt. Fixes whose
  // row moved meanwhile are skipped (the next pass sees the new state). Returns how many applied.
  struct Fix {
    std::string domain;
    std::string key;
    int64_t expected_lsn = 0;
    std::optional<Row> row;
  };
  virtual absl::StatusOr<int> Repair(std::span<const Fix> fixes) = 0;

  virtual absl::StatusOr<std::vector<PartitionProgress>> Progress() = 0;
  // min over `partitions` of the highest LSN seen there: every change <= it has been applied
  // (the relay's heartbeats reach every partition). 0 while some partition was never seen.
  absl::StatusOr<int64_t> Watermark(std::span<const std::pair<std::string, int32_t>> partitions);
  // Records the partition count of the change topics being applied (the applier, on discovery).
  virtual absl::Status SetTopicPartitions(const std::map<std::string, int>& topics) = 0;
  // min over the partitions of `topic` of the highest LSN seen there: every change of that
  // topic with LSN <= it has been applied. 0 for a topic not (yet) recorded or a partition
  // never seen. What the client library checks session tokens against.
  virtual absl::StatusOr<int64_t> TopicWatermark(std::string_view topic) = 0;
  // The recorded partition count of `topic`; 0 if not recorded.
  virtual absl::StatusOr<int> TopicPartitions(std::string_view topic) = 0;
  // Forgets all positions (after the change log was lost): events are consumed from the start
  // again, and already-applied LSNs are skipped by Apply.
  virtual absl::Status ResetProgress() = 0;
  // Lowers every partition's recorded highest LSN above `ceiling` to it, in one transaction;
  // returns how many partitions changed. For an operator clearing a watermark poisoned by a
  // forged event (the primary's last LSN is the ceiling no real event exceeds).
  virtual absl::StatusOr<int> ClampProgress(int64_t ceiling) = 0;
};

}  // namespace cmo::store

#endif  // CMO_STORE_REPLICA_STORE_H_
