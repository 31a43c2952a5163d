#include "base/db_url.h"

#include "base/pg_sql.h"
#include "base/postgres.h"
#include "base/sqlite.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::base {
namespace {

bool IsPostgres(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

// "scheme://" with an RFC 3986 scheme: something that looks like a URL and is not ours.
bool HasOtherScheme(std::string_view url) {
  const size_t colon = url.find("://");
  if (colon == std::string_view::npos || colon == 0) return false;
  for (char c : url.substr(0, colon)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

constexpr std::string_view kAccepted =
    "a store is a file path, sqlite:PATH or postgresql://USER@HOST:PORT/DB";

}  // namespace

absl::StatusOr<DbUrl> ParseDbUrl(std::string_view url) {
  if (url.empty()) return absl::InvalidArgumentError(StrCat("empty store URL; ", kAccepted));
  if (IsPostgres(url)) return DbUrl{DbUrl::Backend::kPostgres, std::string(url)};
  if (url.starts_with("sqlite:")) {
    std::string_view path = url.substr(7);
    if (path.starts_with("//")) path.remove_prefix(2);  // sqlite:///var/x and sqlite:/var/x
    if (path.empty()) {
      return absl::InvalidArgumentError(StrCat("\"", url, "\" names no file; ", kAccepted));
    }
    return DbUrl{DbUrl::Backend::kSqlite, std::string(path)};
  }
  if (HasOtherScheme(url)) {
    return absl::InvalidArgumentError(
        StrCat("unsupported store URL \"", RedactDbUrl(url), "\"; ", kAccepted));
  }
  return DbUrl{DbUrl::Backend::kSqlite, std::string(url)};
}

std::string RedactDbUrl(std::string_view url) {
  return IsPostgres(url) ? RedactPgUri(url) : std::string(url);
}

absl::StatusOr<std::unique_ptr<SqlDb>> OpenSqlDb(std::string_view url) {
  CMO_ASSIGN_OR_RETURN(DbUrl parsed, ParseDbUrl(url));
  if (parsed.backend == DbUrl::Backend::kPostgres) {
    CMO_ASSIGN_OR_RETURN(auto db, PgSqlDb::Connect(parsed.target));
    return std::unique_ptr<SqlDb>(std::move(db));
  }
  CMO_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(parsed.target));
  return std::unique_ptr<SqlDb>(std::move(db));
}

}  // namespace cmo::base
