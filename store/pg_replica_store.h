// A region's replica on a PostgreSQL server (issue: run across machines; in progress — not yet
// behind a store interface). Same contract as ReplicaStore: Apply writes every row whose LSN is
// newer than the stored one and records the consumed partition positions in the same
// transaction (so a replay after a crash is harmless), with bucket digests kept in step.
#ifndef CMO_STORE_PG_REPLICA_STORE_H_
#define CMO_STORE_PG_REPLICA_STORE_H_

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "store/row.h"

namespace cmo::base {
class PgConnection;
}

namespace cmo::store {

// Not thread-safe: one per applier thread.
class PgReplicaStore {
 public:
  static absl::StatusOr<std::unique_ptr<PgReplicaStore>> Open(const std::string& uri,
                                                              const StoreOptions& options = {});
  ~PgReplicaStore();

  absl::StatusOr<ApplyStats> Apply(std::span<const Row> rows,
                                   std::span<const PartitionProgress> progress);
  absl::StatusOr<std::optional<Row>> Get(std::string_view domain, std::string_view key);
  absl::StatusOr<std::vector<PartitionProgress>> Progress();
  // min over `partitions` of the highest LSN seen there; 0 while one was never seen.
  absl::StatusOr<int64_t> Watermark(std::span<const std::pair<std::string, int32_t>> partitions);
  absl::StatusOr<std::vector<uint64_t>> Digests(std::string_view domain);

 private:
  PgReplicaStore(std::unique_ptr<base::PgConnection> db, int bits);
  std::unique_ptr<base::PgConnection> db_;
  int bits_;
};

}  // namespace cmo::store

#endif  // CMO_STORE_PG_REPLICA_STORE_H_
