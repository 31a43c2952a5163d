// Thin RAII wrapper over sqlite3: a connection with a cache of prepared statements, schema
// migrations per component, and scoped transactions (base/sql.h). All SQL runs through
// prepared statements with bound parameters; nothing is ever spliced into SQL text. Hot paths
// (the stores) use the concrete classes: Statement is final, so its calls are direct.
#ifndef CMO_BASE_SQLITE_H_
#define CMO_BASE_SQLITE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/sql.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cmo::base {

class SqliteDb;

// One prepared statement, owned by its SqliteDb. Not thread-safe (neither is its connection).
// Use through Statement::Scope, which resets and clears bindings when it goes out of scope.
class Statement final : public SqlStatement {
 public:
  ~Statement() override;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite.
  Statement& Bind(int index, int64_t value) override;
  Statement& Bind(int index, std::string_view text) override;
  Statement& BindBlob(int index, std::string_view bytes);
  // Without copying the bytes (Bind and BindBlob copy): they must stay alive and unchanged
  // until the statement is reset, i.e. until its Scope ends. For hot paths binding fields of
  // objects that outlive the Scope.
  Statement& BindView(int index, std::string_view text);
  Statement& BindBlobView(int index, std::string_view bytes);
  Statement& BindNull(int index) override;

  // Advances; true while a row is available, false when done.
  absl::StatusOr<bool> Step() override;
  // Runs a statement that returns no rows.
  absl::Status Run() override;

  template <typename F>
  absl::Status ForEachRow(F each) {
    return ForEachRowOf(*this, each);
  }

  int64_t ColumnInt(int column) const override;
  std::string ColumnText(int column) const override;
  // The column's bytes without a copy: valid until the statement steps again or is reset.
  std::string_view ColumnView(int column) const;
  bool ColumnIsNull(int column) const override;

  using Scope = StatementScope<Statement>;

 private:
  friend class SqliteDb;
  friend class StatementScope<Statement>;
  Statement(SqliteDb& db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void Reset() override;
  absl::Status Checked(int rc, int index);

  SqliteDb& db_;
  sqlite3_stmt* stmt_;
  absl::Status bind_error_;
};

struct SqliteOptions {
  bool create = true;
  // WAL lets readers in other processes (the CLI, kcat-side tools) read while we write.
  bool wal = true;
  // How long a writer waits for another process's write lock before giving up (kUnavailable).
  int busy_timeout_ms = 5000;
  // synchronous=FULL in WAL mode makes each commit durable on return.
  bool synchronous_full = true;
  // Page cache per connection, and memory-mapped reads: B-tree pages of large stores are read
  // without a syscall each (SQLite's defaults, 2 MiB and no mmap, suit small databases).
  int64_t cache_kib = 64 * 1024;
  int64_t mmap_bytes = int64_t{256} << 20;
};

// A connection. Not thread-safe: use one per thread (SQLite serializes writers across them).
class SqliteDb final : public SqlDb {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path,
                                                        const SqliteOptions& options = {});
  ~SqliteDb() override;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  SqlDialect dialect() const override { return SqlDialect::kSqlite; }
  const std::string& where() const override { return path_; }
  // Runs fixed SQL text with no parameters (schema, pragmas). Never used with user input.
  absl::Status ExecScript(std::string_view sql) override;
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int Changes();

  // Returns the cached prepared statement for this SQL text, preparing it on first use.
  absl::StatusOr<Statement*> Prepare(std::string_view sql);
  absl::StatusOr<SqlStatement*> Prepared(std::string_view sql) override;

  // Brings `component`'s tables to schema version migrations.size(): step i (0-based) takes
  // version i to i+1 in its own transaction. Several components (flags, plans, ...) share one
  // database, each with its own version row in `cmo_schema`. A component newer than this
  // binary is refused (kFailedPrecondition).
  absl::Status Migrate(std::string_view component,
                       const std::vector<std::string_view>& migrations) override;
  // BEGIN IMMEDIATE takes the write lock up front, so two processes changing flags serialize
  // instead of deadlocking.
  absl::Status BeginWrite() override;
  absl::Status BeginRead() override;
  absl::Status Commit() override;
  void Rollback() override;

  // The schema version of `component`; 0 if it has none yet.
  absl::StatusOr<int64_t> SchemaVersion(std::string_view component);
  const std::string& path() const { return path_; }

  // Maps the connection's last error to a Status whose code says what the caller should do.
  absl::Status ErrorStatus(int rc, std::string_view context) const;

 private:
  friend class Statement;
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  absl::Status EnableWal(int busy_timeout_ms);

  sqlite3* db_;
  std::string path_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> statements_;
};

}  // namespace cmo::base

#endif  // CMO_BASE_SQLITE_H_
