#include "store/store_url.h"

#include <unistd.h>

#include "base/postgres.h"
#include "base/strings.h"

namespace cmo::store {
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

absl::StatusOr<StoreUrl> ParseStoreUrl(std::string_view url) {
  if (url.empty()) return absl::InvalidArgumentError(base::StrCat("empty store URL; ", kAccepted));
  if (IsPostgres(url)) return StoreUrl{StoreUrl::Backend::kPostgres, std::string(url)};
  if (url.starts_with("sqlite:")) {
    std::string_view path = url.substr(7);
    if (path.starts_with("//")) path.remove_prefix(2);  // sqlite:///var/x and sqlite:/var/x
    if (path.empty()) {
      return absl::InvalidArgumentError(base::StrCat("\"", url, "\" names no file; ", kAccepted));
    }
    return StoreUrl{StoreUrl::Backend::kSqlite, std::string(path)};
  }
  if (HasOtherScheme(url)) {
    return absl::InvalidArgumentError(
        base::StrCat("unsupported store URL \"", RedactStoreUrl(url), "\"; ", kAccepted));
  }
  return StoreUrl{StoreUrl::Backend::kSqlite, std::string(url)};
}

bool IsMissingSqliteFile(std::string_view url) {
  absl::StatusOr<StoreUrl> parsed = ParseStoreUrl(url);
  return parsed.ok() && parsed->backend == StoreUrl::Backend::kSqlite &&
         ::access(parsed->target.c_str(), F_OK) != 0;
}

std::string RedactStoreUrl(std::string_view url) {
  return IsPostgres(url) ? base::RedactPgUri(url) : std::string(url);
}

}  // namespace cmo::store
