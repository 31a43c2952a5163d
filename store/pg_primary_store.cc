#include "store/pg_primary_store.h"

#include <utility>

#include "base/postgres.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "store/internal/pg_row_table.h"

namespace cmo::store {
namespace {

using internal::ByteaParam;
using internal::ByteaValue;

constexpr std::string_view kOutboxSchema = R"sql(
CREATE TABLE IF NOT EXISTS cmo_outbox (
  lsn BIGINT PRIMARY KEY, domain TEXT NOT NULL, key BYTEA NOT NULL, value BYTEA NOT NULL,
  tombstone BOOLEAN NOT NULL, commit_ms BIGINT NOT NULL, op TEXT NOT NULL, subject TEXT NOT NULL);
INSERT INTO cmo_settings VALUES ('last_lsn', 0) ON CONFLICT (name) DO NOTHING;
)sql";

}  // namespace

PgPrimaryStore::PgPrimaryStore(std::unique_ptr<base::PgConnection> db, const base::Clock& clock,
                               int bits)
    : db_(std::move(db)), clock_(clock), bits_(bits) {}
PgPrimaryStore::~PgPrimaryStore() = default;

absl::StatusOr<std::unique_ptr<PgPrimaryStore>> PgPrimaryStore::Open(const std::string& uri,
                                                                     const base::Clock& clock,
                                                                     const StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(auto db, base::PgConnection::Connect(uri));
  CMO_ASSIGN_OR_RETURN(int bits, internal::OpenPgRowTables(*db, options.digest_bits));
  CMO_RETURN_IF_ERROR(db->ExecScript(kOutboxSchema));
  return std::unique_ptr<PgPrimaryStore>(new PgPrimaryStore(std::move(db), clock, bits));
}

absl::StatusOr<std::vector<int64_t>> PgPrimaryStore::Write(std::span<const WriteRequest> writes) {
  if (writes.empty()) return std::vector<int64_t>();
  internal::PgTxn txn(*db_);
  CMO_RETURN_IF_ERROR(txn.Begin());
  // First statement of the transaction: the counter row's lock is held from here to COMMIT.
  CMO_ASSIGN_OR_RETURN(
      base::PgResult counter,
      db_->Exec("UPDATE cmo_settings SET value = value + $1 WHERE name = 'last_lsn' "
                "RETURNING value",
                {std::to_string(writes.size())}));
  CMO_ASSIGN_OR_RETURN(int64_t last, counter.Int(0, 0));
  int64_t lsn = last - static_cast<int64_t>(writes.size());
  const absl::Time now = clock_.Now();
  internal::PgRowWriter rows(*db_, bits_);
  std::vector<int64_t> lsns;
  lsns.reserve(writes.size());
  for (const WriteRequest& w : writes) {
    const Row row{w.domain, w.key, w.tombstone ? std::string() : w.value, ++lsn, w.tombstone, now};
    CMO_ASSIGN_OR_RETURN(auto old, rows.Version(w.domain, w.key));
    CMO_RETURN_IF_ERROR(rows.Put(row, old));
    CMO_RETURN_IF_ERROR(
        db_->Exec("INSERT INTO cmo_outbox (lsn, domain, key, value, tombstone, commit_ms, op, "
                  "subject) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                  {std::to_string(lsn), w.domain, ByteaParam(w.key), ByteaParam(row.value),
                   w.tombstone ? "true" : "false", std::to_string(absl::ToUnixMillis(now)), w.op,
                   w.subject})
            .status());
    lsns.push_back(lsn);
  }
  CMO_RETURN_IF_ERROR(rows.Flush());
  CMO_RETURN_IF_ERROR(txn.Commit());
  return lsns;
}

absl::StatusOr<std::optional<Row>> PgPrimaryStore::Get(std::string_view domain,
                                                       std::string_view key) {
  return internal::PgGetRow(*db_, domain, key);
}

absl::StatusOr<int64_t> PgPrimaryStore::LastLsn() {
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       db_->Exec("SELECT value FROM cmo_settings WHERE name = 'last_lsn'"));
  return r.Int(0, 0);
}

absl::StatusOr<std::vector<OutboxEntry>> PgPrimaryStore::ReadOutbox(int64_t after_lsn, int limit) {
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db_->Exec("SELECT lsn, domain, key, value, tombstone, commit_ms, op, subject FROM "
                "cmo_outbox WHERE lsn > $1 ORDER BY lsn LIMIT $2",
                {std::to_string(after_lsn), std::to_string(limit)}));
  std::vector<OutboxEntry> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    OutboxEntry e;
    CMO_ASSIGN_OR_RETURN(e.row.lsn, r.Int(i, 0));
    e.row.domain = std::string(r.Text(i, 1));
    CMO_ASSIGN_OR_RETURN(e.row.key, ByteaValue(r.Text(i, 2)));
    CMO_ASSIGN_OR_RETURN(e.row.value, ByteaValue(r.Text(i, 3)));
    e.row.tombstone = r.Text(i, 4) == "t";
    CMO_ASSIGN_OR_RETURN(int64_t ms, r.Int(i, 5));
    e.row.commit_time = absl::FromUnixMillis(ms);
    e.op = std::string(r.Text(i, 6));
    e.subject = std::string(r.Text(i, 7));
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<uint64_t>> PgPrimaryStore::Digests(std::string_view domain) {
  return internal::PgDigests(*db_, domain, bits_);
}

}  // namespace cmo::store
