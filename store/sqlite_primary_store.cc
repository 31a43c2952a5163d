#include "store/sqlite_primary_store.h"

#include "base/sqlite.h"
#include "base/status_macros.h"
#include "store/internal/row_table.h"

namespace cmo::store {
namespace {

constexpr std::string_view kPrimarySchema = R"sql(
CREATE TABLE outbox (
  lsn INTEGER PRIMARY KEY, domain TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
  tombstone INTEGER NOT NULL, commit_ms INTEGER NOT NULL, op TEXT NOT NULL,
  subject TEXT NOT NULL) STRICT;
CREATE TABLE primary_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
INSERT INTO primary_state VALUES ('last_lsn', 0), ('published_through', 0);
)sql";

// Step 2: what each change causally follows (Row::depends_on), carried to the replicas.
constexpr std::string_view kOutboxDependsOnSchema = R"sql(
ALTER TABLE outbox ADD COLUMN depends_on INTEGER NOT NULL DEFAULT 0;
)sql";

// Step 3: whether the relay sends the change through the priority channel.
constexpr std::string_view kOutboxPrioritySchema = R"sql(
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
)sql";

}  // namespace

SqlitePrimaryStore::SqlitePrimaryStore(internal::OpenedStore opened, const base::Clock& clock)
    : SqliteRowStore(std::move(opened)), clock_(clock) {}

SqlitePrimaryStore::~SqlitePrimaryStore() = default;

absl::StatusOr<std::unique_ptr<SqlitePrimaryStore>> SqlitePrimaryStore::Open(
    const std::string& path, const base::Clock& clock, const StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(
      internal::OpenedStore opened,
      internal::OpenStore(path, options.synchronous_full, options.digest_bits, "primary",
                          {kPrimarySchema, kOutboxDependsOnSchema, kOutboxPrioritySchema}));
  return std::unique_ptr<SqlitePrimaryStore>(new SqlitePrimaryStore(std::move(opened), clock));
}

absl::StatusOr<int64_t> SqlitePrimaryStore::Setting(std::string_view name) {
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt,
                       db_->Prepare("SELECT value FROM primary_state WHERE name = ?1"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, name);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->ColumnInt(0) : 0;
}

absl::Status SqlitePrimaryStore::SetSetting(std::string_view name, int64_t value) {
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt,
                       db_->Prepare("UPDATE primary_state SET value = ?2 WHERE name = ?1"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, name).Bind(2, value);
  return s->Run();
}

absl::StatusOr<std::vector<int64_t>> SqlitePrimaryStore::Write(
    std::span<const WriteRequest> writes) {
  CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(*db_));
  internal::DigestDeltas digests;
  CMO_ASSIGN_OR_RETURN(int64_t lsn, Setting("last_lsn"));
  CMO_RETURN_IF_ERROR(CheckDependencies(writes, lsn + 1));
  const absl::Time now = clock_.Now();
  std::vector<int64_t> lsns;
  lsns.reserve(writes.size());
  CMO_ASSIGN_OR_RETURN(
      base::Statement * outbox,
      db_->Prepare("INSERT INTO outbox (lsn, domain, key, value, tombstone, commit_ms, op, "
                   "subject, depends_on, priority) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                   "?10)"));
  for (const WriteRequest& w : writes) {
    const Row row{w.domain,    w.key,       w.tombstone ? std::string() : w.value,
                  ++lsn,       w.tombstone, now,
                  -1,          w.op,        w.subject,
                  w.depends_on};
    CMO_ASSIGN_OR_RETURN(std::optional<internal::StoredVersion> old,
                         rows_->Version(w.domain, w.key));
    CMO_RETURN_IF_ERROR(rows_->Put(row, old, digests));
    base::Statement::Scope s(*outbox);
    s->Bind(1, row.lsn)
        .BindView(2, row.domain)
        .BindBlobView(3, row.key)
        .BindBlobView(4, row.value)
        .Bind(5, int64_t{row.tombstone})
        .Bind(6, absl::ToUnixMillis(now))
        .BindView(7, w.op)
        .BindView(8, w.subject)
        .Bind(9, w.depends_on)
        .Bind(10, int64_t{w.priority});
    CMO_RETURN_IF_ERROR(s->Run());
    lsns.push_back(row.lsn);
  }
  CMO_RETURN_IF_ERROR(SetSetting("last_lsn", lsn));
  CMO_RETURN_IF_ERROR(rows_->Commit(digests, *txn));
  return lsns;
}

absl::StatusOr<int64_t> SqlitePrimaryStore::LastLsn() { return Setting("last_lsn"); }

absl::StatusOr<std::vector<OutboxEntry>> SqlitePrimaryStore::ReadOutbox(int64_t after_lsn,
                                                                        int limit) {
  CMO_ASSIGN_OR_RETURN(
      base::Statement * stmt,
      db_->Prepare("SELECT lsn, domain, key, value, tombstone, commit_ms, op, subject, "
                   "depends_on, priority FROM outbox WHERE lsn > ?1 ORDER BY lsn LIMIT ?2"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, after_lsn).Bind(2, int64_t{limit});
  std::vector<OutboxEntry> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] {
    OutboxEntry e;
    e.row.lsn = s->ColumnInt(0);
    e.row.domain = s->ColumnText(1);
    e.row.key = s->ColumnText(2);
    e.row.value = s->ColumnText(3);
    e.row.tombstone = s->ColumnInt(4) != 0;
    e.row.commit_time = absl::FromUnixMillis(s->ColumnInt(5));
    e.row.op = s->ColumnText(6);
    e.row.subject = s->ColumnText(7);
    e.row.depends_on = s->ColumnInt(8);
    e.priority = s->ColumnInt(9) != 0;
    out.push_back(std::move(e));
  }));
  return out;
}

absl::Status SqlitePrimaryStore::SetPublishedThrough(int64_t lsn) {
  return SetSetting("published_through", lsn);
}

absl::StatusOr<int64_t> SqlitePrimaryStore::PublishedThrough() {
  return Setting("published_through");
}

absl::StatusOr<int64_t> SqlitePrimaryStore::RequestRepublish() {
  CMO_ASSIGN_OR_RETURN(
      base::Statement * stmt,
      db_->Prepare("INSERT INTO primary_state VALUES ('republish_requests', 1) ON CONFLICT (name) "
                   "DO UPDATE SET value = value + 1 RETURNING value"));
  base::Statement::Scope s(*stmt);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::InternalError("RETURNING gave no row");
  return s->ColumnInt(0);
}

absl::StatusOr<int64_t> SqlitePrimaryStore::RepublishRequests() {
  return Setting("republish_requests");
}

absl::Status SqlitePrimaryStore::TrimOutbox(int64_t lsn) {
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt, db_->Prepare("DELETE FROM outbox WHERE lsn <= ?1"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, lsn);
  return s->Run();
}

absl::StatusOr<int64_t> SqlitePrimaryStore::OutboxSize() {
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt, db_->Prepare("SELECT count(*) FROM outbox"));
  base::Statement::Scope s(*stmt);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->ColumnInt(0) : 0;
}

}  // namespace cmo::store
