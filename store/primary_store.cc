#include "store/primary_store.h"

#include "base/status_macros.h"
#include "store/pg_primary_store.h"
#include "store/sqlite_primary_store.h"
#include "store/store_url.h"

namespace cmo::store {

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
