// The read side of RowStore on SQLite, shared by SqlitePrimaryStore and SqliteReplicaStore:
// both keep their rows in a RowTable, so both read and collect the same way. A template over
// the interface (PrimaryStore or ReplicaStore) rather than a second base, so each store
// derives from its interface once.
#ifndef CMO_STORE_INTERNAL_SQLITE_ROW_STORE_H_
#define CMO_STORE_INTERNAL_SQLITE_ROW_STORE_H_

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/sqlite.h"
#include "base/status_macros.h"
#include "store/internal/row_table.h"

namespace cmo::store::internal {

template <typename Interface>
class SqliteRowStore : public Interface {
 public:
  absl::StatusOr<std::optional<Row>> Get(std::string_view domain, std::string_view key) override {
    return rows_->Get(domain, key);
  }
  absl::StatusOr<std::vector<uint64_t>> Digests(std::string_view domain) override {
    return rows_->Digests(domain);
  }
  absl::StatusOr<std::vector<Row>> RowsInBucket(std::string_view domain, uint32_t bucket) override {
    return rows_->RowsInBucket(domain, bucket);
  }
  absl::StatusOr<std::vector<RowSummary>> SummariesInBuckets(
      std::string_view domain, std::span<const uint32_t> buckets) override {
    std::vector<RowSummary> out;  // the rows are local: hashing them costs less than a column
    for (uint32_t b : buckets) {
      CMO_ASSIGN_OR_RETURN(std::vector<Row> rows, rows_->RowsInBucket(domain, b));
      for (Row& r : rows) {
        const uint64_t hash = RowHash(r);
        out.push_back({std::move(r.key), hash});
      }
    }
    return out;
  }
  absl::StatusOr<std::vector<Row>> RowsOfKeys(std::string_view domain,
                                              std::span<const std::string> keys) override {
    std::vector<Row> out;
    for (const std::string& key : keys) {
      CMO_ASSIGN_OR_RETURN(std::optional<Row> row, rows_->Get(domain, key));
      if (row.has_value()) out.push_back(*std::move(row));
    }
    return out;
  }
  absl::Status Scan(std::string_view domain,
                    const std::function<void(uint32_t bucket, const Row& row)>& fn) override {
    return rows_->Scan(domain, fn);
  }
  absl::StatusOr<int64_t> CountRows(std::string_view domain) override {
    return rows_->CountRows(domain);
  }
  absl::StatusOr<std::vector<std::string>> Domains() override { return rows_->Domains(); }
  absl::StatusOr<int64_t> CollectTombstones(std::string_view domain, absl::Time cutoff,
                                            int64_t limit) override {
    CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(*db_));
    DigestDeltas digests;
    CMO_ASSIGN_OR_RETURN(int64_t n, rows_->CollectTombstones(domain, cutoff, limit, digests));
    CMO_RETURN_IF_ERROR(rows_->Commit(digests, *txn));
    return n;
  }
  absl::StatusOr<absl::Time> TombstoneHorizon() override { return rows_->TombstoneHorizon(); }
  absl::StatusOr<int64_t> CollectedThroughLsn() override { return rows_->CollectedThroughLsn(); }
  int digest_bits() const override { return rows_->digest_bits(); }

 protected:
  explicit SqliteRowStore(OpenedStore opened)
      : db_(std::move(opened.db)), rows_(std::move(opened.rows)) {}

  std::unique_ptr<base::SqliteDb> db_;
  std::unique_ptr<RowTable> rows_;
};

}  // namespace cmo::store::internal

#endif  // CMO_STORE_INTERNAL_SQLITE_ROW_STORE_H_
