#include "store/pg_replica_store.h"

#include "base/postgres.h"
#include "base/status_macros.h"
#include "store/internal/pg_row_table.h"

namespace cmo::store {
namespace {

constexpr std::string_view kProgressSchema = R"sql(
CREATE TABLE IF NOT EXISTS cmo_partition_progress (
  topic TEXT NOT NULL, partition INT NOT NULL, next_offset BIGINT NOT NULL,
  max_lsn BIGINT NOT NULL, last_seq BIGINT NOT NULL, PRIMARY KEY (topic, partition));
)sql";

}  // namespace

PgReplicaStore::PgReplicaStore(std::unique_ptr<base::PgConnection> db, int bits)
    : db_(std::move(db)), bits_(bits) {}
PgReplicaStore::~PgReplicaStore() = default;

absl::StatusOr<std::unique_ptr<PgReplicaStore>> PgReplicaStore::Open(const std::string& uri,
                                                                     const StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(auto db, base::PgConnection::Connect(uri));
  CMO_ASSIGN_OR_RETURN(int bits, internal::OpenPgRowTables(*db, options.digest_bits));
  CMO_RETURN_IF_ERROR(db->ExecScript(kProgressSchema));
  return std::unique_ptr<PgReplicaStore>(new PgReplicaStore(std::move(db), bits));
}

absl::StatusOr<ApplyStats> PgReplicaStore::Apply(std::span<const Row> rows,
                                                 std::span<const PartitionProgress> progress) {
  ApplyStats stats;
  internal::PgTxn txn(*db_);
  CMO_RETURN_IF_ERROR(txn.Begin());
  internal::PgRowWriter writer(*db_, bits_);
  for (const Row& row : rows) {
    CMO_ASSIGN_OR_RETURN(auto old, writer.Version(row.domain, row.key));
    if (old.has_value() && old->first >= row.lsn) {
      ++stats.stale;  // a duplicate or an older version: newer-only makes replays harmless
      continue;
    }
    CMO_RETURN_IF_ERROR(writer.Put(row, old));
    ++stats.applied;
  }
  for (const PartitionProgress& p : progress) {
    CMO_RETURN_IF_ERROR(
        db_->Exec("INSERT INTO cmo_partition_progress (topic, partition, next_offset, max_lsn, "
                  "last_seq) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (topic, partition) DO "
                  "UPDATE SET next_offset = EXCLUDED.next_offset, max_lsn = "
                  "GREATEST(cmo_partition_progress.max_lsn, EXCLUDED.max_lsn), "
                  "last_seq = EXCLUDED.last_seq",
                  {p.topic, std::to_string(p.partition), std::to_string(p.next_offset),
                   std::to_string(p.max_lsn), std::to_string(p.last_seq)})
            .status());
  }
  CMO_RETURN_IF_ERROR(writer.Flush());
  CMO_RETURN_IF_ERROR(txn.Commit());
  return stats;
}

absl::StatusOr<std::optional<Row>> PgReplicaStore::Get(std::string_view domain,
                                                       std::string_view key) {
  return internal::PgGetRow(*db_, domain, key);
}

absl::StatusOr<std::vector<PartitionProgress>> PgReplicaStore::Progress() {
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       db_->Exec("SELECT topic, partition, next_offset, max_lsn, last_seq FROM "
                                 "cmo_partition_progress ORDER BY topic, partition"));
  std::vector<PartitionProgress> out;
  for (int i = 0; i < r.rows(); ++i) {
    PartitionProgress p;
    p.topic = std::string(r.Text(i, 0));
    CMO_ASSIGN_OR_RETURN(int64_t partition, r.Int(i, 1));
    p.partition = static_cast<int32_t>(partition);
    CMO_ASSIGN_OR_RETURN(p.next_offset, r.Int(i, 2));
    CMO_ASSIGN_OR_RETURN(p.max_lsn, r.Int(i, 3));
    CMO_ASSIGN_OR_RETURN(p.last_seq, r.Int(i, 4));
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<int64_t> PgReplicaStore::Watermark(
    std::span<const std::pair<std::string, int32_t>> partitions) {
  CMO_ASSIGN_OR_RETURN(std::vector<PartitionProgress> all, Progress());
  return WatermarkOf(all, partitions);
}

absl::StatusOr<std::vector<uint64_t>> PgReplicaStore::Digests(std::string_view domain) {
  return internal::PgDigests(*db_, domain, bits_);
}

}  // namespace cmo::store
