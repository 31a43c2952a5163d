#include "store/pg_primary_store.h"

#include <utility>

#include "base/postgres.h"
#include "base/status_macros.h"
#include "store/internal/pg_row_table.h"
#include "store/internal/pg_session.h"

namespace cmo::store {
namespace {

using internal::PgArray;

constexpr internal::PgSchemaPart kPrimaryPart{"primary", 3, R"sql(
CREATE TABLE IF NOT EXISTS outbox (
  lsn BIGINT PRIMARY KEY, domain TEXT NOT NULL, key BYTEA NOT NULL, value BYTEA NOT NULL,
  tombstone BOOLEAN NOT NULL, commit_ms BIGINT NOT NULL, op TEXT NOT NULL, subject TEXT NOT NULL);
INSERT INTO settings VALUES ('last_lsn', 0), ('published_through', 0)
  ON CONFLICT (name) DO NOTHING;
-- Version 2: what each change causally follows (Row::depends_on), carried to the replicas.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS depends_on BIGINT NOT NULL DEFAULT 0;
-- Version 3: whether the relay sends the change through the priority channel.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS priority BOOLEAN NOT NULL DEFAULT false;
)sql",
                                              "replica"};

}  // namespace

PgPrimaryStore::PgPrimaryStore(std::unique_ptr<internal::PgSession> session,
                               const base::Clock& clock)
    : PgRowStore(std::move(session), "last_lsn"), clock_(clock) {}
PgPrimaryStore::~PgPrimaryStore() = default;

absl::StatusOr<std::unique_ptr<PgPrimaryStore>> PgPrimaryStore::Open(const std::string& uri,
                                                                     const base::Clock& clock,
                                                                     const StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(auto session, internal::PgSession::Open(uri, options, kPrimaryPart));
  return std::unique_ptr<PgPrimaryStore>(new PgPrimaryStore(std::move(session), clock));
}

// Two round trips whatever the batch size, each a pipeline: (1) BEGIN, take the LSNs, read
// the touched keys' versions; (2) the outbox rows, the rows, the digest deltas, COMMIT.
absl::StatusOr<std::vector<int64_t>> PgPrimaryStore::Write(std::span<const WriteRequest> writes) {
  if (writes.empty()) return std::vector<int64_t>();
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  internal::PgRowWriter rows(*db, session_->digest_bits());
  std::vector<std::pair<std::string_view, std::string_view>> keys;
  keys.reserve(writes.size());
  for (const WriteRequest& w : writes) keys.emplace_back(w.domain, w.key);
  // The counter row's lock is taken by the first statement after BEGIN and held to COMMIT, so
  // no transaction with a larger LSN can commit before this one.
  std::vector<base::PgStatement> first = {
      internal::PgTxn::BeginStatement(),
      {"UPDATE settings SET value = value + $1 WHERE name = 'last_lsn' RETURNING value",
       {std::to_string(writes.size())}}};
  if (std::optional<base::PgStatement> read = rows.PrefetchStatement(keys)) {
    first.push_back(*std::move(read));
  }
  absl::StatusOr<std::vector<base::PgResult>> got = session_->BeginPipelined(first, &db);
  if (!got.ok()) return got.status();
  internal::PgTxn txn(*db);  // from here on, rolled back unless committed
  txn.Sent();
  CMO_ASSIGN_OR_RETURN(int64_t last, (*got)[1].Int(0, 0));
  if (got->size() > 2) CMO_RETURN_IF_ERROR(rows.TakePrefetched((*got)[2]));
  int64_t lsn = last - static_cast<int64_t>(writes.size());
  CMO_RETURN_IF_ERROR(CheckDependencies(writes, lsn + 1));
  const absl::Time now = clock_.Now();

  using T = PgArray::Type;
  PgArray lsns(T::kInt8), domains(T::kText), names(T::kBytea), values(T::kBytea),
      tombstones(T::kBool), ops(T::kText), subjects(T::kText), depends_on(T::kInt8),
      priority(T::kBool);
  std::vector<int64_t> out;
  out.reserve(writes.size());
  for (const WriteRequest& w : writes) {
    const Row row{w.domain,    w.key,       w.tombstone ? std::string() : w.value,
                  ++lsn,       w.tombstone, now,
                  -1,          w.op,        w.subject,
                  w.depends_on};
    CMO_RETURN_IF_ERROR(rows.Put(row));
    lsns.Add(lsn);
    domains.Add(row.domain);
    names.Add(row.key);
    values.Add(row.value);
    tombstones.Add(row.tombstone);
    ops.Add(w.op);
    subjects.Add(w.subject);
    depends_on.Add(w.depends_on);
    priority.Add(w.priority);
    out.push_back(lsn);
  }
  std::vector<base::PgStatement> second = {internal::PgStatementOf(
      "INSERT INTO outbox (lsn, domain, key, value, tombstone, commit_ms, op, subject, "
      "depends_on, priority) SELECT l, d, k, v, t, $8, o, s, p, q FROM unnest($1::bigint[], "
      "$2::text[], $3::bytea[], $4::bytea[], $5::bool[], $6::text[], $7::text[], "
      "$9::bigint[], $10::bool[]) AS u(l, d, k, v, t, o, s, p, q)",
      {std::move(lsns).Done(), std::move(domains).Done(), std::move(names).Done(),
       std::move(values).Done(), std::move(tombstones).Done(), std::move(ops).Done(),
       std::move(subjects).Done(), std::to_string(absl::ToUnixMillis(now)),
       std::move(depends_on).Done(), std::move(priority).Done()})};
  for (base::PgStatement& st : rows.FlushStatements()) second.push_back(std::move(st));
  second.push_back(internal::PgTxn::CommitStatement());
  CMO_RETURN_IF_ERROR(db->ExecPipeline(second).status());
  txn.Done();
  return out;
}

absl::StatusOr<int64_t> PgPrimaryStore::LastLsn() {
  return session_->Run([&](base::PgConnection& db) { return internal::PgSetting(db, "last_lsn"); });
}

absl::StatusOr<std::vector<OutboxEntry>> PgPrimaryStore::ReadOutbox(int64_t after_lsn, int limit) {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db->Exec("SELECT lsn, domain, key, value, tombstone, commit_ms, op, subject, depends_on, "
               "priority FROM outbox WHERE lsn > $1 ORDER BY lsn LIMIT $2",
               {std::to_string(after_lsn), std::to_string(limit)}));
  std::vector<OutboxEntry> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    OutboxEntry e;
    CMO_ASSIGN_OR_RETURN(e.row.lsn, r.Int(i, 0));
    e.row.domain = std::string(r.Text(i, 1));
    CMO_ASSIGN_OR_RETURN(e.row.key, internal::ByteaValue(r.Text(i, 2)));
    CMO_ASSIGN_OR_RETURN(e.row.value, internal::ByteaValue(r.Text(i, 3)));
    e.row.tombstone = r.Text(i, 4) == "t";
    CMO_ASSIGN_OR_RETURN(int64_t ms, r.Int(i, 5));
    e.row.commit_time = absl::FromUnixMillis(ms);
    e.row.op = std::string(r.Text(i, 6));
    e.row.subject = std::string(r.Text(i, 7));
    CMO_ASSIGN_OR_RETURN(e.row.depends_on, r.Int(i, 8));
    e.priority = r.Text(i, 9) == "t";
    out.push_back(std::move(e));
  }
  return out;
}

absl::Status PgPrimaryStore::SetPublishedThrough(int64_t lsn) {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  return internal::PgSetSetting(*db, "published_through", lsn);
}

absl::StatusOr<int64_t> PgPrimaryStore::PublishedThrough() {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  return internal::PgSetting(*db, "published_through");
}

absl::StatusOr<int64_t> PgPrimaryStore::RequestRepublish() {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db->Exec("INSERT INTO settings VALUES ('republish_requests', 1) ON CONFLICT (name) DO "
               "UPDATE SET value = settings.value + 1 RETURNING value"));
  if (r.rows() != 1) return absl::InternalError("RETURNING gave no row");
  return r.Int(0, 0);
}

absl::StatusOr<int64_t> PgPrimaryStore::RepublishRequests() {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  return internal::PgSetting(*db, "republish_requests");
}

absl::Status PgPrimaryStore::TrimOutbox(int64_t lsn) {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  const int64_t from = trimmed_through_.load();
  if (lsn <= from) return absl::OkStatus();
  CMO_RETURN_IF_ERROR(db->Exec("DELETE FROM outbox WHERE lsn > $1 AND lsn <= $2",
                               {std::to_string(from), std::to_string(lsn)})
                          .status());
  int64_t seen = from;  // a concurrent trim may have gone further meanwhile: keep the larger
  while (seen < lsn && !trimmed_through_.compare_exchange_weak(seen, lsn)) {
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> PgPrimaryStore::OutboxSize() {
  CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
  CMO_ASSIGN_OR_RETURN(base::PgResult r, db->Exec("SELECT count(*) FROM outbox"));
  return r.Int(0, 0);
}

}  // namespace cmo::store
