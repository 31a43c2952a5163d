// A regional replica on a PostgreSQL server (see PgPrimaryStore for the schema). Apply takes
// the store's writer lock, so the applier and reconciliation's repairs never compute digest
// deltas from each other's stale reads.
#ifndef CMO_STORE_PG_REPLICA_STORE_H_
#define CMO_STORE_PG_REPLICA_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/internal/pg_row_store.h"
#include "store/replica_store.h"

namespace cmo::store {

class PgReplicaStore final : public internal::PgRowStore<ReplicaStore> {
 public:
  static absl::StatusOr<std::unique_ptr<PgReplicaStore>> Open(const std::string& uri,
                                                              const StoreOptions& options = {});
  ~PgReplicaStore() override;

  absl::StatusOr<ApplyStats> Apply(std::span<const Row> rows,
                                   std::span<const PartitionProgress> progress) override;
  absl::StatusOr<int> Repair(std::span<const Fix> fixes) override;
  absl::StatusOr<std::vector<PartitionProgress>> Progress() override;
  absl::Status SetTopicPartitions(const std::map<std::string, int>& topics) override;
  absl::StatusOr<int64_t> TopicWatermark(std::string_view topic) override;
  absl::StatusOr<int> TopicPartitions(std::string_view topic) override;
  absl::Status ResetProgress() override;
  absl::StatusOr<int> ClampProgress(int64_t ceiling) override;

 private:
  explicit PgReplicaStore(std::unique_ptr<internal::PgSession> session);
};

}  // namespace cmo::store

#endif  // CMO_STORE_PG_REPLICA_STORE_H_
