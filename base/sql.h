// A database the control plane keeps its state in, whichever it is: the state dir's SQLite file
// (base/sqlite.h) or a PostgreSQL server several `cmo serve` instances share (base/pg_sql.h).
// The stores of the control state (flags, plans, breakers, divergences, reconciliation jobs)
// are written once against this interface. Statements use SQLite's numbered parameters
// (?1, ?2, ...), which PostgreSQL gets as $1, $2, ...; schemas differ per dialect.
#ifndef CMO_BASE_SQL_H_
#define CMO_BASE_SQL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cmo::base {

// Steps through every remaining row of `stmt`, calling `each()` (which reads the columns) per
// row. `each` returns void, or an absl::Status that stops the iteration when not OK.
template <typename S, typename F>
absl::Status ForEachRowOf(S& stmt, F each) {
  for (;;) {
    absl::StatusOr<bool> row = stmt.Step();
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

// Resets a statement (and its bindings) when it goes out of scope, so the cache can reuse it.
template <typename S>
class StatementScope {
 public:
  explicit StatementScope(S& s) : s_(s) {}
  ~StatementScope() { s_.Reset(); }
  StatementScope(const StatementScope&) = delete;
  StatementScope& operator=(const StatementScope&) = delete;
  S* operator->() { return &s_; }

 private:
  S& s_;
};

// One prepared statement, owned by its SqlDb. Not thread-safe (neither is its connection).
class SqlStatement {
 public:
  virtual ~SqlStatement() = default;

  // Parameters are 1-based.
  virtual SqlStatement& Bind(int index, int64_t value) = 0;
  virtual SqlStatement& Bind(int index, std::string_view text) = 0;
  virtual SqlStatement& BindNull(int index) = 0;

  // Advances (the first call runs the statement); true while a row is available.
  virtual absl::StatusOr<bool> Step() = 0;
  // Runs a statement that returns no rows.
  virtual absl::Status Run() = 0;

  virtual int64_t ColumnInt(int column) const = 0;
  virtual std::string ColumnText(int column) const = 0;
  virtual bool ColumnIsNull(int column) const = 0;

  template <typename F>
  absl::Status ForEachRow(F each) {
    return ForEachRowOf(*this, each);
  }

  using Scope = StatementScope<SqlStatement>;

 protected:
  friend class StatementScope<SqlStatement>;
  virtual void Reset() = 0;
};

enum class SqlDialect { kSqlite, kPostgres };

// A connection. Not thread-safe: one per thread.
class SqlDb {
 public:
  virtual ~SqlDb() = default;
  virtual SqlDialect dialect() const = 0;
  // The file's path or the server's URI without its password, for messages.
  virtual const std::string& where() const = 0;

  // Runs fixed SQL text with no parameters (schema). Never used with user input.
  virtual absl::Status ExecScript(std::string_view sql) = 0;
  // The cached prepared statement for this SQL text, prepared on first use.
  virtual absl::StatusOr<SqlStatement*> Prepared(std::string_view sql) = 0;

  // Brings `component`'s tables to schema version migrations.size(): step i (0-based) takes
  // version i to i+1 in its own transaction. Several components share one database, each
  // with its own version row in `cmo_schema`. A component newer than this binary is refused
  // (kFailedPrecondition).
  virtual absl::Status Migrate(std::string_view component,
                               const std::vector<std::string_view>& migrations) = 0;

  // A transaction that writes: writers of one database serialize (SQLite's write lock, a
  // PostgreSQL advisory lock), so read-modify-write sequences (the revision counter) are safe.
  // On PostgreSQL the connection's write guard (if any) runs first and may refuse.
  virtual absl::Status BeginWrite() = 0;
  // A transaction that only reads, seeing one consistent state throughout.
  virtual absl::Status BeginRead() = 0;
  virtual absl::Status Commit() = 0;
  virtual void Rollback() = 0;
};

// db.Migrate(component, ...) with the schema steps written for the database's dialect (the
// same number of steps in both: a step's version means the same tables either way).
absl::Status MigrateSchema(SqlDb& db, std::string_view component,
                           const std::vector<std::string_view>& sqlite,
                           const std::vector<std::string_view>& postgres);

// BeginWrite() ... Commit(). Rolls back when destroyed without Commit().
class WriteTransaction {
 public:
  static absl::StatusOr<std::unique_ptr<WriteTransaction>> Begin(SqlDb& db);
  ~WriteTransaction();
  absl::Status Commit();

 private:
  explicit WriteTransaction(SqlDb& db) : db_(db) {}
  SqlDb& db_;
  bool done_ = false;
};

// A read transaction for the scope of the object (rolled back at its end: it wrote nothing).
class ReadTransaction {
 public:
  static absl::StatusOr<std::unique_ptr<ReadTransaction>> Begin(SqlDb& db);
  ~ReadTransaction() { db_.Rollback(); }

 private:
  explicit ReadTransaction(SqlDb& db) : db_(db) {}
  SqlDb& db_;
};

}  // namespace cmo::base

#endif  // CMO_BASE_SQL_H_
