#include "store/replica_store.h"

#include <map>

#include "base/status_macros.h"
#include "store/pg_replica_store.h"
#include "store/sqlite_replica_store.h"
#include "store/store_url.h"

namespace cmo::store {

absl::StatusOr<std::unique_ptr<ReplicaStore>> ReplicaStore::Open(const std::string& url,
                                                                 const StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url));
  if (parsed.backend == StoreUrl::Backend::kPostgres) {
    return PgReplicaStore::Open(parsed.target, options);
  }
  return SqliteReplicaStore::Open(parsed.target, options);
}

absl::StatusOr<int64_t> ReplicaStore::Watermark(
    std::span<const std::pair<std::string, int32_t>> partitions) {
  CMO_ASSIGN_OR_RETURN(std::vector<PartitionProgress> all, Progress());
  return WatermarkOf(all, partitions);
}

int64_t WatermarkOf(std::span<const PartitionProgress> progress,
                    std::span<const std::pair<std::string, int32_t>> partitions) {
  std::map<std::pair<std::string, int32_t>, int64_t> seen;
  for (const PartitionProgress& p : progress) seen[{p.topic, p.partition}] = p.max_lsn;
  int64_t watermark = -1;
  for (const auto& tp : partitions) {
    auto it = seen.find(tp);
    const int64_t lsn = it == seen.end() ? 0 : it->second;
    watermark = watermark < 0 ? lsn : std::min(watermark, lsn);
  }
  return watermark < 0 ? 0 : watermark;
}

}  // namespace cmo::store
