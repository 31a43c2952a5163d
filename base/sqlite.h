// Thin RAII wrapper over sqlite3: a connection with a cache of prepared statements, schema
// migrations per component, and a scoped write transaction. All SQL runs through
// prepared statements with bound parameters; nothing is ever spliced into SQL text.
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

struct sqlite3;
struct sqlite3_stmt;

namespace cmo::base {

class SqliteDb;

// One prepared statement, owned by its SqliteDb. Not thread-safe (neither is its connection).
// Use through Statement::Scope, which resets and clears bindings when it goes out of scope.
class Statement {
 public:
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, std::string_view bytes);
  // Without copying the bytes (Bind and BindBlob copy): they must stay alive and unchanged
  // until the statement is reset, i.e. until its Scope ends. For hot paths binding fields of
  // objects that outlive the Scope.
  Statement& BindView(int index, std::string_view text);
  Statement& BindBlobView(int index, std::string_view bytes);
  Statement& BindNull(int index);

  // Advances; true while a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows.
  absl::Status Run();

  // Steps through every remaining row, calling `each()` (which reads the columns) per row.
  // `each` returns void, or an absl::Status that stops the iteration when not OK.
  template <typename F>
  absl::Status ForEachRow(F each) {
    for (;;) {
      absl::StatusOr<bool> row = Step();
      if (!row.ok()) return row.status();
      if (!*row) return absl::OkStatus();
      if constexpr (std::is_same_v<decltype(each()), void>) {
        each();
      } else {
        absl::Status s = each();
        if (!s.ok()) return s;
      }
    }
  }

  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  // The column's bytes without a copy: valid until the statement steps again or is reset.
  std::string_view ColumnView(int column) const;
  bool ColumnIsNull(int column) const;

  // Resets the statement (and its bindings) when destroyed, so the cache can reuse it.
  class Scope {
   public:
    explicit Scope(Statement& s) : s_(s) {}
    ~Scope() { s_.Reset(); }
    Statement* operator->() { return &s_; }

   private:
    Statement& s_;
  };

 private:
  friend class SqliteDb;
  Statement(SqliteDb& db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void Reset();
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
class SqliteDb {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path,
                                                        const SqliteOptions& options = {});
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs fixed SQL text with no parameters (schema, pragmas). Never used with user input.
  absl::Status ExecScript(std::string_view sql);
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int Changes();

  // Returns the cached prepared statement for this SQL text, preparing it on first use.
  absl::StatusOr<Statement*> Prepare(std::string_view sql);

  // Brings `component`'s tables to schema version migrations.size(): step i (0-based) takes
  // version i to i+1 in its own transaction. Several components (flags, plans, ...) share one
  // database, each with its own version row in `cmo_schema`. A component newer than this
  // binary is refused (kFailedPrecondition).
  absl::Status Migrate(std::string_view component, const std::vector<std::string_view>& migrations);

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

// BEGIN IMMEDIATE ... COMMIT. Rolls back when destroyed without Commit(). IMMEDIATE takes the
// write lock up front, so two processes changing flags serialize instead of deadlocking.
class WriteTransaction {
 public:
  static absl::StatusOr<std::unique_ptr<WriteTransaction>> Begin(SqliteDb& db);
  ~WriteTransaction();
  absl::Status Commit();

 private:
  explicit WriteTransaction(SqliteDb& db) : db_(db) {}
  SqliteDb& db_;
  bool done_ = false;
};

}  // namespace cmo::base

#endif  // CMO_BASE_SQLITE_H_
