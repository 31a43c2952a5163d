// A thin RAII wrapper over libpq, the way base/sqlite.h wraps SQLite: one connection named by a
// libpq URI (`postgresql://user@host:port/db?...`), statements with bound parameters only (no
// SQL is ever built from values), and errors mapped to Status codes by what the caller should
// do next: kUnavailable (retry: server down, connection lost), kAborted (retry the whole
// transaction: serialization failure, deadlock), kAlreadyExists (unique violation),
// kInvalidArgument (bad URI), kInternal (anything else, e.g. an SQL error: a bug).
// No libpq type appears here.
#ifndef CMO_BASE_POSTGRES_H_
#define CMO_BASE_POSTGRES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cmo::base {

// One result set. Movable; frees itself.
class PgResult {
 public:
  PgResult(PgResult&&) noexcept;
  PgResult& operator=(PgResult&&) noexcept;
  ~PgResult();
  int rows() const;
  int columns() const;
  bool IsNull(int row, int col) const;
  std::string_view Text(int row, int col) const;
  // The value as an integer; kInternal naming the column when it is not one.
  absl::StatusOr<int64_t> Int(int row, int col) const;
  std::string_view ColumnName(int col) const;
  uint32_t ColumnType(int col) const;  // the column's type OID (pg_type)
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const;

 private:
  friend class PgConnection;
  struct Impl;
  explicit PgResult(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A parameter: text, or NULL.
using PgParam = std::optional<std::string>;

// One statement (of a pipeline, or alone).
struct PgStatement {
  std::string sql;
  std::vector<PgParam> params;
  // Per parameter: sent in PostgreSQL's binary format rather than as text (empty: all text).
  // Whole columns of a batch bound as one array parameter are sent so: no hex or escaping to
  // build and parse, and a bytea crosses the wire at its own size, not twice it.
  std::vector<bool> binary = {};
};

// Not thread-safe: one connection per thread (as with SqliteDb).
class PgConnection {
 public:
  // kInvalidArgument for a malformed URI, kUnavailable when the server cannot be reached (the
  // message names host and port, never the password).
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(const std::string& uri);
  ~PgConnection();

  // One statement with $1, $2, ... bound to `params` (text format). `types` (type OIDs, 0 =
  // let the server infer) lets a parameter the statement does not use still be sent.
  absl::StatusOr<PgResult> Exec(std::string_view sql, const std::vector<PgParam>& params = {},
                                const std::vector<uint32_t>& types = {});
  absl::StatusOr<PgResult> Exec(const PgStatement& statement);
  // Sends every statement before reading any result (libpq pipeline mode): one network round
  // trip for all of them, which is what makes a transaction across a long link affordable.
  // Results in order; on the first failing statement, its error (the server skips the rest;
  // an open transaction is then aborted and must be rolled back).
  absl::StatusOr<std::vector<PgResult>> ExecPipeline(const std::vector<PgStatement>& statements);
  // Several statements without parameters (schema scripts).
  absl::Status ExecScript(std::string_view sql);
  // Whether the connection is still usable (false after the server went away).
  bool ok() const;

 private:
  friend class PgReplicationStream;
  struct Impl;
  explicit PgConnection(std::unique_ptr<Impl> impl);
  // Both Exec()s, without copying the parameters into a statement.
  absl::StatusOr<PgResult> ExecBound(const std::string& sql, const std::vector<PgParam>& params,
                                     const std::vector<bool>& binary,
                                     const std::vector<uint32_t>& types);
  std::unique_ptr<Impl> impl_;
};

// `uri` with any password replaced by "***", for messages and logs.
std::string RedactPgUri(std::string_view uri);

}  // namespace cmo::base

#endif  // CMO_BASE_POSTGRES_H_
