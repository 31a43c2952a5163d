// Which database a URL names, for every place a database is configured (stores, the control
// state): a file path or `sqlite:PATH` is embedded SQLite; `postgresql://...` (or
// `postgres://...`) is a libpq connection URI.
#ifndef CMO_BASE_DB_URL_H_
#define CMO_BASE_DB_URL_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/sql.h"

namespace cmo::base {

struct DbUrl {
  enum class Backend { kSqlite, kPostgres };
  Backend backend = Backend::kSqlite;
  std::string target;  // the SQLite path, or the whole libpq URI
};

// kInvalidArgument, saying which forms are accepted, for an empty URL or another scheme
// (`mysql://...`).
absl::StatusOr<DbUrl> ParseDbUrl(std::string_view url);

// The URL fit for logs and messages: a PostgreSQL password becomes "***".
std::string RedactDbUrl(std::string_view url);

// Connects to the database `url` names: an SqliteDb (the file created if missing) or a PgSqlDb.
absl::StatusOr<std::unique_ptr<SqlDb>> OpenSqlDb(std::string_view url);

}  // namespace cmo::base

#endif  // CMO_BASE_DB_URL_H_
