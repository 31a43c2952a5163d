#include "store/store_url.h"

#include <unistd.h>

namespace cmo::store {

absl::StatusOr<StoreUrl> ParseStoreUrl(std::string_view url) { return base::ParseDbUrl(url); }

bool IsMissingSqliteFile(std::string_view url) {
  absl::StatusOr<StoreUrl> parsed = ParseStoreUrl(url);
  return parsed.ok() && parsed->backend == StoreUrl::Backend::kSqlite &&
         ::access(parsed->target.c_str(), F_OK) != 0;
}

std::string RedactStoreUrl(std::string_view url) { return base::RedactDbUrl(url); }

}  // namespace cmo::store
