#include "base/sqlite.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::base {

Statement::~Statement() { sqlite3_finalize(stmt_); }

absl::Status Statement::Checked(int rc, int index) {
  if (rc != SQLITE_OK && bind_error_.ok()) {
    bind_error_ = db_.ErrorStatus(rc, StrCat("binding parameter ", index));
  }
  return bind_error_;
}

Statement& Statement::Bind(int index, int64_t value) {
  Checked(sqlite3_bind_int64(stmt_, index, value), index).IgnoreError();
  return *this;
}

namespace {

// Text and blob binds differ only in the SQLite call and whether SQLite copies the bytes.
int BindBytes(sqlite3_stmt* stmt, int index, std::string_view bytes, bool text, bool copy) {
  const int n = static_cast<int>(bytes.size());
  const sqlite3_destructor_type keep = copy ? SQLITE_TRANSIENT : SQLITE_STATIC;
  return text ? sqlite3_bind_text(stmt, index, bytes.data(), n, keep)
              : sqlite3_bind_blob(stmt, index, bytes.data(), n, keep);
}

}  // namespace

Statement& Statement::Bind(int index, std::string_view text) {
  Checked(BindBytes(stmt_, index, text, /*text=*/true, /*copy=*/true), index).IgnoreError();
  return *this;
}
Statement& Statement::BindBlob(int index, std::string_view bytes) {
  Checked(BindBytes(stmt_, index, bytes, /*text=*/false, /*copy=*/true), index).IgnoreError();
  return *this;
}
Statement& Statement::BindView(int index, std::string_view text) {
  Checked(BindBytes(stmt_, index, text, /*text=*/true, /*copy=*/false), index).IgnoreError();
  return *this;
}
Statement& Statement::BindBlobView(int index, std::string_view bytes) {
  Checked(BindBytes(stmt_, index, bytes, /*text=*/false, /*copy=*/false), index).IgnoreError();
  return *this;
}

Statement& Statement::BindNull(int index) {
  Checked(sqlite3_bind_null(stmt_, index), index).IgnoreError();
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  CMO_RETURN_IF_ERROR(bind_error_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_.ErrorStatus(rc, sqlite3_sql(stmt_));
}

absl::Status Statement::Run() {
  CMO_ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  return absl::OkStatus();
}

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::ColumnText(int column) const { return std::string(ColumnView(column)); }

std::string_view Statement::ColumnView(int column) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  const int n = sqlite3_column_bytes(stmt_, column);
  return p == nullptr ? std::string_view() : std::string_view(p, static_cast<size_t>(n));
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path,
                                                         const SqliteOptions& options) {
  // SQLite's memory statistics take a process-wide mutex on every allocation, and a batch of
  // writes allocates thousands of times: two stores writing on two threads (primary and
  // replica) contended on it. We never read those statistics. Only possible before SQLite
  // initializes; if something else initialized it first the call fails and nothing changes.
  static const bool kNoMemStatus = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)kNoMemStatus;
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  if (rc != SQLITE_OK) {
    const bool missing = rc == SQLITE_CANTOPEN;
    return absl::Status(
        missing ? absl::StatusCode::kFailedPrecondition : absl::StatusCode::kUnavailable,
        StrCat("cannot open database ", path, ": ",
               raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc),
               missing ? "; check that the state dir exists and is writable" : ""));
  }
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  if (options.wal) CMO_RETURN_IF_ERROR(db->EnableWal(options.busy_timeout_ms));
  CMO_RETURN_IF_ERROR(db->ExecScript(options.synchronous_full ? "PRAGMA synchronous=FULL;"
                                                              : "PRAGMA synchronous=NORMAL;"));
  CMO_RETURN_IF_ERROR(db->ExecScript("PRAGMA foreign_keys=ON;"));
  // Our own integers, not input.
  CMO_RETURN_IF_ERROR(db->ExecScript(StrCat("PRAGMA cache_size=-", options.cache_kib, ";")));
  CMO_RETURN_IF_ERROR(db->ExecScript(StrCat("PRAGMA mmap_size=", options.mmap_bytes, ";")));
  return db;
}

absl::Status SqliteDb::EnableWal(int busy_timeout_ms) {
  // Switching a new database to WAL needs it exclusively, and SQLite answers "locked" at once
  // instead of calling the busy handler: two processes opening a fresh state dir together
  // (`cmo serve` and an app) would fail at random. Retry for as long as any other lock wait.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  for (int attempt = 0;; ++attempt) {
    absl::Status s = ExecScript("PRAGMA journal_mode=WAL;");
    if (s.ok()) break;
    if (!absl::IsUnavailable(s) || std::chrono::steady_clock::now() >= deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1 << std::min(attempt, 4), 10)));
  }
  CMO_ASSIGN_OR_RETURN(Statement * mode, Prepare("PRAGMA journal_mode;"));
  Statement::Scope q(*mode);
  CMO_ASSIGN_OR_RETURN(bool row, q->Step());
  if (!row || q->ColumnText(0) != "wal") {
    return absl::FailedPreconditionError(
        StrCat(path_, ": cannot switch to WAL mode (journal mode is '", row ? q->ColumnText(0) : "",
               "'); is the file on a network filesystem?"));
  }
  return absl::OkStatus();
}

SqliteDb::~SqliteDb() {
  statements_.clear();  // statements must be finalized before the connection closes
  sqlite3_close(db_);
}

absl::Status SqliteDb::ErrorStatus(int rc, std::string_view context) const {
  const std::string msg =
      StrCat(path_, ": ", context, ": ", db_ != nullptr ? sqlite3_errmsg(db_) : "", " (sqlite ",
             sqlite3_errstr(rc), ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(StrCat(msg, "; another process holds the lock, retry"));
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(msg);
      }
      return absl::FailedPreconditionError(msg);  // CHECK, NOT NULL, a refusing trigger
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return absl::FailedPreconditionError(StrCat(msg, "; check permissions of the state dir"));
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(StrCat(msg, "; the disk is full"));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status SqliteDb::ExecScript(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (err != nullptr) sqlite3_free(err);
  if (rc != SQLITE_OK) return ErrorStatus(rc, text);
  return absl::OkStatus();
}

int SqliteDb::Changes() { return sqlite3_changes(db_); }

absl::StatusOr<Statement*> SqliteDb::Prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return ErrorStatus(rc, sql);
  auto owned = std::unique_ptr<Statement>(new Statement(*this, stmt));
  Statement* raw = owned.get();
  statements_.emplace(std::string(sql), std::move(owned));
  return raw;
}

absl::StatusOr<SqlStatement*> SqliteDb::Prepared(std::string_view sql) {
  CMO_ASSIGN_OR_RETURN(Statement * s, Prepare(sql));
  return s;
}

absl::StatusOr<int64_t> SqliteDb::SchemaVersion(std::string_view component) {
  CMO_RETURN_IF_ERROR(ExecScript(
      "CREATE TABLE IF NOT EXISTS cmo_schema (component TEXT PRIMARY KEY, version INTEGER NOT "
      "NULL) STRICT;"));
  CMO_ASSIGN_OR_RETURN(Statement * stmt,
                       Prepare("SELECT version FROM cmo_schema WHERE component = ?1"));
  Statement::Scope s(*stmt);
  s->Bind(1, component);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->ColumnInt(0) : 0;
}

absl::Status SqliteDb::Migrate(std::string_view component,
                               const std::vector<std::string_view>& migrations) {
  const int64_t target = static_cast<int64_t>(migrations.size());
  for (;;) {
    CMO_ASSIGN_OR_RETURN(auto txn, WriteTransaction::Begin(*this));
    CMO_ASSIGN_OR_RETURN(const int64_t version, SchemaVersion(component));
    if (version > target) {
      return absl::FailedPreconditionError(
          StrCat(path_, ": the ", component, " tables have schema version ", version,
                 " but this cmo knows only up to ", target, "; they were written by a newer cmo — ",
                 "upgrade cmo"));
    }
    if (version == target) return txn->Commit();
    CMO_RETURN_IF_ERROR(ExecScript(migrations[static_cast<size_t>(version)]));
    CMO_ASSIGN_OR_RETURN(Statement * stmt,
                         Prepare("INSERT INTO cmo_schema (component, version) VALUES (?1, ?2) "
                                 "ON CONFLICT (component) DO UPDATE SET version = ?2"));
    {
      Statement::Scope s(*stmt);
      s->Bind(1, component).Bind(2, version + 1);
      CMO_RETURN_IF_ERROR(s->Run());
    }
    CMO_RETURN_IF_ERROR(txn->Commit());
  }
}

absl::Status SqliteDb::BeginWrite() { return ExecScript("BEGIN IMMEDIATE;"); }
absl::Status SqliteDb::BeginRead() { return ExecScript("BEGIN;"); }
absl::Status SqliteDb::Commit() {
  absl::Status s = ExecScript("COMMIT;");
  if (!s.ok()) Rollback();
  return s;
}
void SqliteDb::Rollback() { ExecScript("ROLLBACK;").IgnoreError(); }

}  // namespace cmo::base
