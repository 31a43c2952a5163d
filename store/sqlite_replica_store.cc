#include "store/sqlite_replica_store.h"

#include "base/sqlite.h"
#include "base/status_macros.h"
#include "store/internal/row_table.h"

namespace cmo::store {
namespace {

constexpr std::string_view kReplicaSchema = R"sql(
CREATE TABLE partition_progress (
  topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
  max_lsn INTEGER NOT NULL, last_seq INTEGER NOT NULL, PRIMARY KEY (topic, partition)) STRICT;
)sql";

// Step 2: the partition count of every change topic the applier reads, so that readers in
// other processes (the client library) can compute a topic's watermark without Kafka.
constexpr std::string_view kTopicPartitionsSchema = R"sql(
CREATE TABLE topic_partitions (topic TEXT PRIMARY KEY, partitions INTEGER NOT NULL) STRICT;
)sql";

}  // namespace

SqliteReplicaStore::SqliteReplicaStore(internal::OpenedStore opened)
    : SqliteRowStore(std::move(opened)) {}

SqliteReplicaStore::~SqliteReplicaStore() = default;

absl::StatusOr<std::unique_ptr<SqliteReplicaStore>> SqliteReplicaStore::Open(
    const std::string& path, const StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(internal::OpenedStore opened,
                       internal::OpenStore(path, options.synchronous_full, options.digest_bits,
                                           "replica", {kReplicaSchema, kTopicPartitionsSchema}));
  return std::unique_ptr<SqliteReplicaStore>(new SqliteReplicaStore(std::move(opened)));
}

absl::StatusOr<ApplyStats> SqliteReplicaStore::Apply(std::span<const Row> rows,
                                                     std::span<const PartitionProgress> progress) {
  ApplyStats stats;
  CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(*db_));
  internal::DigestDeltas digests;
  CMO_ASSIGN_OR_RETURN(const absl::Time horizon, rows_->TombstoneHorizon());
  for (const Row& row : rows) {
    CMO_ASSIGN_OR_RETURN(std::optional<internal::StoredVersion> old,
                         rows_->Version(row.domain, row.key));
    if (old.has_value() && old->lsn >= row.lsn) {
      ++stats.stale;
      continue;
    }
    if (!old.has_value() && row.commit_time < horizon) {
      // The key's tombstone may have been collected: applying this could bring a deleted row
      // back. A replica that legitimately needs it is past the grace period: resync it.
      ++stats.below_horizon;
      continue;
    }
    CMO_RETURN_IF_ERROR(rows_->Put(row, old, digests));
    ++stats.applied;
  }
  CMO_ASSIGN_OR_RETURN(
      base::Statement * stmt,
      db_->Prepare("INSERT INTO partition_progress (topic, partition, next_offset, max_lsn, "
                   "last_seq) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (topic, partition) DO "
                   "UPDATE SET next_offset = ?3, max_lsn = max(max_lsn, ?4), last_seq = ?5"));
  for (const PartitionProgress& p : progress) {
    base::Statement::Scope s(*stmt);
    s->Bind(1, p.topic)
        .Bind(2, int64_t{p.partition})
        .Bind(3, p.next_offset)
        .Bind(4, p.max_lsn)
        .Bind(5, p.awaiting_republish);
    CMO_RETURN_IF_ERROR(s->Run());
  }
  CMO_RETURN_IF_ERROR(rows_->Commit(digests, *txn));
  return stats;
}

absl::StatusOr<int> SqliteReplicaStore::Repair(std::span<const Fix> fixes) {
  int applied = 0;
  CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(*db_));
  internal::DigestDeltas digests;
  for (const Fix& f : fixes) {
    CMO_ASSIGN_OR_RETURN(std::optional<Row> current, rows_->Get(f.domain, f.key));
    if ((current.has_value() ? current->lsn : 0) != f.expected_lsn) continue;
    if (f.row.has_value()) {
      const std::optional<internal::StoredVersion> old =
          current.has_value() ? std::optional(internal::StoredVersion::Of(*current)) : std::nullopt;
      CMO_RETURN_IF_ERROR(rows_->Put(*f.row, old, digests));
    } else if (current.has_value()) {
      CMO_RETURN_IF_ERROR(rows_->Delete(*current, digests));
    }
    ++applied;
  }
  CMO_RETURN_IF_ERROR(rows_->Commit(digests, *txn));
  return applied;
}

absl::StatusOr<std::vector<PartitionProgress>> SqliteReplicaStore::Progress() {
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt,
                       db_->Prepare("SELECT topic, partition, next_offset, max_lsn, last_seq FROM "
                                    "partition_progress ORDER BY topic, partition"));
  base::Statement::Scope s(*stmt);
  std::vector<PartitionProgress> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] {
    out.push_back({s->ColumnText(0), static_cast<int32_t>(s->ColumnInt(1)), s->ColumnInt(2),
                   s->ColumnInt(3), s->ColumnInt(4)});
  }));
  return out;
}

absl::StatusOr<int> SqliteReplicaStore::ClampProgress(int64_t ceiling) {
  CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(*db_));
  CMO_ASSIGN_OR_RETURN(
      base::Statement * stmt,
      db_->Prepare("UPDATE partition_progress SET max_lsn = ?1 WHERE max_lsn > ?1"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, ceiling);
  CMO_RETURN_IF_ERROR(s->Run());
  const int changed = db_->Changes();
  CMO_RETURN_IF_ERROR(txn->Commit());
  return changed;
}

absl::Status SqliteReplicaStore::SetTopicPartitions(const std::map<std::string, int>& topics) {
  CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(*db_));
  CMO_ASSIGN_OR_RETURN(
      base::Statement * stmt,
      db_->Prepare("INSERT INTO topic_partitions (topic, partitions) VALUES (?1, ?2) "
                   "ON CONFLICT (topic) DO UPDATE SET partitions = ?2"));
  for (const auto& [topic, n] : topics) {
    base::Statement::Scope s(*stmt);
    s->Bind(1, topic).Bind(2, int64_t{n});
    CMO_RETURN_IF_ERROR(s->Run());
  }
  return txn->Commit();
}

absl::StatusOr<int64_t> SqliteReplicaStore::TopicWatermark(std::string_view topic) {
  // One read transaction, so the partition count and the positions are from the same moment.
  CMO_ASSIGN_OR_RETURN(
      base::Statement * stmt,
      db_->Prepare("SELECT t.partitions, (SELECT COUNT(*) FROM partition_progress p WHERE "
                   "p.topic = t.topic AND p.partition < t.partitions), (SELECT MIN(max_lsn) FROM "
                   "partition_progress p WHERE p.topic = t.topic AND p.partition < t.partitions) "
                   "FROM topic_partitions t WHERE t.topic = ?1"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, topic);
  int64_t watermark = 0;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] {
    // A partition never seen yet holds the watermark at 0.
    if (s->ColumnInt(0) > 0 && s->ColumnInt(1) == s->ColumnInt(0)) watermark = s->ColumnInt(2);
  }));
  return watermark;
}

absl::StatusOr<int> SqliteReplicaStore::TopicPartitions(std::string_view topic) {
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt,
                       db_->Prepare("SELECT partitions FROM topic_partitions WHERE topic = ?1"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, topic);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? static_cast<int>(s->ColumnInt(0)) : 0;
}

absl::Status SqliteReplicaStore::ResetProgress() {
  return db_->ExecScript("DELETE FROM partition_progress;");
}

}  // namespace cmo::store
