// A regional replica on an embedded SQLite file.
#ifndef CMO_STORE_SQLITE_REPLICA_STORE_H_
#define CMO_STORE_SQLITE_REPLICA_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/internal/sqlite_row_store.h"
#include "store/replica_store.h"

namespace cmo::store {

class SqliteReplicaStore final : public internal::SqliteRowStore<ReplicaStore> {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteReplicaStore>> Open(const std::string& path,
                                                                  const StoreOptions& options);
  ~SqliteReplicaStore() override;

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
  explicit SqliteReplicaStore(internal::OpenedStore opened);
};

}  // namespace cmo::store

#endif  // CMO_STORE_SQLITE_REPLICA_STORE_H_
