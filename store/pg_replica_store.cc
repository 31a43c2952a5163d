#include "store/pg_replica_store.h"

#include <utility>

#include "base/postgres.h"
#include "base/status_macros.h"
#include "store/internal/pg_row_table.h"
#include "store/internal/pg_session.h"

namespace cmo::store {
namespace {

using internal::PgArray;

// writer_lock: the settings row every row-changing transaction locks (PgLockWriters).
constexpr internal::PgSchemaPart kReplicaPart{"replica", 1, R"sql(
CREATE TABLE IF NOT EXISTS partition_progress (
  topic TEXT NOT NULL, partition INT NOT NULL, next_offset BIGINT NOT NULL,
  max_lsn BIGINT NOT NULL, last_seq BIGINT NOT NULL, PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS topic_partitions (topic TEXT PRIMARY KEY, partitions INT NOT NULL);
INSERT INTO settings VALUES ('writer_lock', 0) ON CONFLICT (name) DO NOTHING;
)sql",
                                              "primary"};

}  // namespace

PgReplicaStore::PgReplicaStore(std::unique_ptr<internal::PgSession> session)
    : PgRowStore(std::move(session), "writer_lock") {}
PgReplicaStore::~PgReplicaStore() = default;

absl::StatusOr<std::unique_ptr<PgReplicaStore>> PgReplicaStore::Open(const std::string& uri,
                                                                     const StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(auto session, internal::PgSession::Open(uri, options, kReplicaPart));
  return std::unique_ptr<PgReplicaStore>(new PgReplicaStore(std::move(session)));
}

// Two round trips, each a pipeline (see PgPrimaryStore::Write): the applier of a region far
// from where it runs pays the link's latency twice per batch, not once per statement.
absl::StatusOr<ApplyStats> PgReplicaStore::Apply(std::span<const Row> rows,
                                                 std::span<const PartitionProgress> progress) {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  internal::PgRowWriter writer(*db, session_->digest_bits());
  std::vector<std::pair<std::string_view, std::string_view>> keys;
  keys.reserve(rows.size());
  for (const Row& row : rows) keys.emplace_back(row.domain, row.key);
  std::vector<base::PgStatement> first = {
      internal::PgTxn::BeginStatement(),
      internal::PgLockWritersStatement("writer_lock"),
      {"SELECT value FROM settings WHERE name = 'tombstone_horizon_ms'", {}}};
  if (std::optional<base::PgStatement> read = writer.PrefetchStatement(keys)) {
    first.push_back(*std::move(read));
  }
  absl::StatusOr<std::vector<base::PgResult>> piped = session_->BeginPipelined(first, &db);
  if (!piped.ok()) return piped.status();
  internal::PgTxn txn(*db);  // from here on, rolled back unless committed
  txn.Sent();
  std::vector<base::PgResult>& got = *piped;
  if (got[1].rows() != 1) return absl::DataLossError("settings row writer_lock is missing");
  absl::Time horizon = absl::InfinitePast();
  if (got[2].rows() == 1) {
    CMO_ASSIGN_OR_RETURN(int64_t ms, got[2].Int(0, 0));
    if (ms != 0) horizon = absl::FromUnixMillis(ms);
  }
  if (got.size() > 3) CMO_RETURN_IF_ERROR(writer.TakePrefetched(got[3]));

  ApplyStats stats;
  for (const Row& row : rows) {
    CMO_ASSIGN_OR_RETURN(std::optional<internal::PgVersion> old,
                         writer.Version(row.domain, row.key));
    if (old.has_value() && old->lsn >= row.lsn) {
      ++stats.stale;  // a duplicate or an older version: newer-only makes replays harmless
      continue;
    }
    if (!old.has_value() && row.commit_time < horizon) {
      ++stats.below_horizon;  // its tombstone may have been collected (see SqliteReplicaStore)
      continue;
    }
    CMO_RETURN_IF_ERROR(writer.Put(row));
    ++stats.applied;
  }
  std::vector<base::PgStatement> second;
  if (!progress.empty()) {
    using T = PgArray::Type;
    PgArray topics(T::kText), partitions(T::kInt4), offsets(T::kInt8), lsns(T::kInt8),
        seqs(T::kInt8);
    for (const PartitionProgress& p : progress) {
      topics.Add(p.topic);
      partitions.Add(int64_t{p.partition});
      offsets.Add(p.next_offset);
      lsns.Add(p.max_lsn);
      seqs.Add(p.awaiting_republish);
    }
    second.push_back(internal::PgStatementOf(
        "INSERT INTO partition_progress (topic, partition, next_offset, max_lsn, last_seq) "
        "SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::bigint[]) "
        "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, "
        "max_lsn = GREATEST(partition_progress.max_lsn, EXCLUDED.max_lsn), "
        "last_seq = EXCLUDED.last_seq",
        {std::move(topics).Done(), std::move(partitions).Done(), std::move(offsets).Done(),
         std::move(lsns).Done(), std::move(seqs).Done()}));
  }
  for (base::PgStatement& st : writer.FlushStatements()) second.push_back(std::move(st));
  second.push_back(internal::PgTxn::CommitStatement());
  CMO_RETURN_IF_ERROR(db->ExecPipeline(second).status());
  txn.Done();
  return stats;
}

absl::StatusOr<int> PgReplicaStore::Repair(std::span<const Fix> fixes) {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  internal::PgTxn txn(*db);
  CMO_RETURN_IF_ERROR(txn.Begin());
  CMO_RETURN_IF_ERROR(internal::PgLockWriters(*db, "writer_lock").status());
  internal::PgRowWriter writer(*db, session_->digest_bits());
  std::vector<std::pair<std::string_view, std::string_view>> keys;
  keys.reserve(fixes.size());
  for (const Fix& f : fixes) keys.emplace_back(f.domain, f.key);
  CMO_RETURN_IF_ERROR(writer.Prefetch(keys));
  int applied = 0;
  for (const Fix& f : fixes) {
    CMO_ASSIGN_OR_RETURN(std::optional<internal::PgVersion> current,
                         writer.Version(f.domain, f.key));
    if ((current.has_value() ? current->lsn : 0) != f.expected_lsn) continue;
    if (f.row.has_value()) {
      CMO_RETURN_IF_ERROR(writer.Put(*f.row));
    } else {
      CMO_RETURN_IF_ERROR(writer.Delete(f.domain, f.key));
    }
    ++applied;
  }
  CMO_RETURN_IF_ERROR(writer.Flush());
  CMO_RETURN_IF_ERROR(txn.Commit());
  return applied;
}

absl::StatusOr<std::vector<PartitionProgress>> PgReplicaStore::Progress() {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       db->Exec("SELECT topic, partition, next_offset, max_lsn, last_seq FROM "
                                "partition_progress ORDER BY topic, partition"));
  std::vector<PartitionProgress> out;
  for (int i = 0; i < r.rows(); ++i) {
    PartitionProgress p;
    p.topic = std::string(r.Text(i, 0));
    CMO_ASSIGN_OR_RETURN(int64_t partition, r.Int(i, 1));
    p.partition = static_cast<int32_t>(partition);
    CMO_ASSIGN_OR_RETURN(p.next_offset, r.Int(i, 2));
    CMO_ASSIGN_OR_RETURN(p.max_lsn, r.Int(i, 3));
    CMO_ASSIGN_OR_RETURN(p.awaiting_republish, r.Int(i, 4));
    out.push_back(std::move(p));
  }
  return out;
}

absl::Status PgReplicaStore::SetTopicPartitions(const std::map<std::string, int>& topics) {
  if (topics.empty()) return absl::OkStatus();
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  PgArray names(PgArray::Type::kText), counts(PgArray::Type::kInt4);
  for (const auto& [topic, n] : topics) {
    names.Add(topic);
    counts.Add(int64_t{n});
  }
  return db
      ->Exec(internal::PgStatementOf(
          "INSERT INTO topic_partitions (topic, partitions) SELECT * FROM unnest($1::text[], "
          "$2::int[]) ON CONFLICT (topic) DO UPDATE SET partitions = EXCLUDED.partitions",
          {std::move(names).Done(), std::move(counts).Done()}))
      .status();
}

absl::StatusOr<int64_t> PgReplicaStore::TopicWatermark(std::string_view topic) {
  // One statement, so the partition count and the positions are from the same snapshot.
  CMO_ASSIGN_OR_RETURN(base::PgResult r, session_->Run([&](base::PgConnection& db) {
    return db.Exec(
        "SELECT t.partitions, count(p.partition), COALESCE(min(p.max_lsn), 0) FROM "
        "topic_partitions t LEFT JOIN partition_progress p ON p.topic = t.topic AND "
        "p.partition < t.partitions WHERE t.topic = $1 GROUP BY t.partitions",
        {std::string(topic)});
  }));
  if (r.rows() == 0) return 0;
  CMO_ASSIGN_OR_RETURN(int64_t partitions, r.Int(0, 0));
  CMO_ASSIGN_OR_RETURN(int64_t seen, r.Int(0, 1));
  // A partition never seen yet holds the watermark at 0.
  if (partitions <= 0 || seen != partitions) return 0;
  return r.Int(0, 2);
}

absl::StatusOr<int> PgReplicaStore::TopicPartitions(std::string_view topic) {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db->Exec("SELECT partitions FROM topic_partitions WHERE topic = $1", {std::string(topic)}));
  if (r.rows() == 0) return 0;
  CMO_ASSIGN_OR_RETURN(int64_t n, r.Int(0, 0));
  return static_cast<int>(n);
}

absl::Status PgReplicaStore::ResetProgress() {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  return db->ExecScript("DELETE FROM partition_progress");
}

absl::StatusOr<int> PgReplicaStore::ClampProgress(int64_t ceiling) {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       db->Exec("UPDATE partition_progress SET max_lsn = $1 WHERE max_lsn > $1",
                                {std::to_string(ceiling)}));
  return static_cast<int>(r.affected());
}

}  // namespace cmo::store
