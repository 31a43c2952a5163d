// The primary on an embedded SQLite file: the default, and what the demo and the tests that
// need no server use. One writer at a time (SQLite's write lock), so LSNs are assigned and
// committed in order by construction.
#ifndef CMO_STORE_SQLITE_PRIMARY_STORE_H_
#define CMO_STORE_SQLITE_PRIMARY_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "store/primary_store.h"

namespace cmo::base {
class SqliteDb;
}

namespace cmo::store {

namespace internal {
class RowTable;
}

class SqlitePrimaryStore final : public PrimaryStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqlitePrimaryStore>> Open(const std::string& path,
                                                                  const base::Clock& clock,
                                                                  const StoreOptions& options);
  ~SqlitePrimaryStore() override;

  absl::StatusOr<std::vector<int64_t>> Write(std::span<const WriteRequest> writes) override;
  absl::StatusOr<std::optional<Row>> Get(std::string_view domain, std::string_view key) override;
  absl::StatusOr<int64_t> LastLsn() override;
  absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(int64_t after_lsn, int limit) override;
  absl::Status SetPublishedThrough(int64_t lsn) override;
  absl::StatusOr<int64_t> PublishedThrough() override;
  absl::Status TrimOutbox(int64_t lsn) override;
  absl::StatusOr<int64_t> OutboxSize() override;
  absl::StatusOr<std::vector<uint64_t>> Digests(std::string_view domain) override;
  absl::StatusOr<std::vector<Row>> RowsInBucket(std::string_view domain, uint32_t bucket) override;
  absl::StatusOr<int64_t> CollectTombstones(std::string_view domain, absl::Time cutoff, int64_t limit) override;
  absl::StatusOr<absl::Time> TombstoneHorizon() override;
  absl::StatusOr<int64_t> CollectedThroughLsn() override;
  absl::Status Scan(std::string_view domain, const std::function<void(uint32_t bucket, const Row& row)>& fn) override;
  absl::StatusOr<std::vector<std::string>> Domains() override;
  int digest_bits() const override;

 private:
  SqlitePrimaryStore(std::unique_ptr<base::SqliteDb> db, std::unique_ptr<internal::RowTable> rows,
                     const base::Clock& clock);
  absl::StatusOr<int64_t> Setting(std::string_view name);
  absl::Status SetSetting(std::string_view name, int64_t value);

  std::unique_ptr<base::SqliteDb> db_;
  std::unique_ptr<internal::RowTable> rows_;
  const base::Clock& clock_;
};

}  // namespace cmo::store

#endif  // CMO_STORE_SQLITE_PRIMARY_STORE_H_
