// A regional replica on an embedded SQLite file.
#ifndef CMO_STORE_SQLITE_REPLICA_STORE_H_
#define CMO_STORE_SQLITE_REPLICA_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/replica_store.h"

namespace cmo::base {
class SqliteDb;
}

namespace cmo::store {

namespace internal {
class RowTable;
}

class SqliteReplicaStore final : public ReplicaStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteReplicaStore>> Open(const std::string& path,
                                                                  const StoreOptions& options);
  ~SqliteReplicaStore() override;

  absl::StatusOr<ApplyStats> Apply(std::span<const Row> rows, std::span<const PartitionProgress> progress) override;
  absl::StatusOr<int> Repair(std::span<const Fix> fixes) override;
  absl::StatusOr<std::optional<Row>> Get(std::string_view domain, std::string_view key) override;
  absl::StatusOr<std::vector<PartitionProgress>> Progress() override;
  absl::Status SetTopicPartitions(const std::map<std::string, int>& topics) override;
  absl::StatusOr<int64_t> TopicWatermark(std::string_view topic) override;
  absl::StatusOr<int> TopicPartitions(std::string_view topic) override;
  absl::Status ResetProgress() override;
  absl::StatusOr<int> ClampProgress(int64_t ceiling) override;
  absl::StatusOr<std::vector<uint64_t>> Digests(std::string_view domain) override;
  absl::StatusOr<std::vector<Row>> RowsInBucket(std::string_view domain, uint32_t bucket) override;
  absl::StatusOr<int64_t> CollectTombstones(std::string_view domain, absl::Time cutoff, int64_t limit) override;
  absl::StatusOr<absl::Time> TombstoneHorizon() override;
  absl::StatusOr<int64_t> CollectedThroughLsn() override;
  absl::Status Scan(std::string_view domain, const std::function<void(uint32_t bucket, const Row& row)>& fn) override;
  absl::StatusOr<int64_t> CountRows(std::string_view domain) override;

 private:
  SqliteReplicaStore(std::unique_ptr<base::SqliteDb> db, std::unique_ptr<internal::RowTable> rows);
  std::unique_ptr<base::SqliteDb> db_;
  std::unique_ptr<internal::RowTable> rows_;
};

}  // namespace cmo::store

#endif  // CMO_STORE_SQLITE_REPLICA_STORE_H_
