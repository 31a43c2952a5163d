#include "store/primary_store.h"

#include "base/status_macros.h"
#include "base/strings.h"
#include "store/pg_primary_store.h"
#include "store/sqlite_primary_store.h"
#include "store/store_url.h"

namespace cmo::store {

absl::Status CheckDependencies(std::span<const WriteRequest> writes, int64_t first_lsn) {
  int64_t lsn = first_lsn;
  for (const WriteRequest& w : writes) {
    if (w.depends_on < 0 || w.depends_on >= lsn) {
      return absl::InvalidArgumentError(
          base::StrCat("write of ", w.domain, "/", w.key, " depends on LSN ", w.depends_on,
                       ", which this primary has not committed (its next LSN is ", lsn,
                       "); pass the token or version of a write that was acknowledged"));
    }
    ++lsn;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PrimaryStore>> PrimaryStore::Open(const std::string& url,
                                                                 const base::Clock& clock,
                                                                 const StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url));
  if (parsed.backend == StoreUrl::Backend::kPostgres) {
    return PgPrimaryStore::Open(parsed.target, clock, options);
  }
  return SqlitePrimaryStore::Open(parsed.target, clock, options);
}

}  // namespace cmo::store
