// Which backend a store URL names. One grammar for every place a store is configured (the
// client library, `cmo serve`, the CLI, the benches): a file path or `sqlite:PATH` is embedded
// SQLite; `postgresql://...` (or `postgres://...`) is a libpq connection URI.
#ifndef CMO_STORE_STORE_URL_H_
#define CMO_STORE_STORE_URL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/db_url.h"

namespace cmo::store {

using StoreUrl = base::DbUrl;

// kInvalidArgument, saying which forms are accepted, for an empty URL or another scheme
// (`mysql://...`).
absl::StatusOr<StoreUrl> ParseStoreUrl(std::string_view url);

// Whether `url` names an SQLite file that does not exist yet (a region whose applier never ran
// here); false for a server store, which is asked instead.
bool IsMissingSqliteFile(std::string_view url);

// The URL fit for logs and messages: a PostgreSQL password becomes "***".
std::string RedactStoreUrl(std::string_view url);

}  // namespace cmo::store

#endif  // CMO_STORE_STORE_URL_H_
