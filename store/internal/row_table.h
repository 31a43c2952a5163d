// Rows and their bucket digests in one SQLite database, shared by the primary and replica
// stores. Every method runs inside the caller's transaction, so a row and its digest always
// change together (digest maintenance is O(1) per write).
#ifndef CMO_STORE_INTERNAL_ROW_TABLE_H_
#define CMO_STORE_INTERNAL_ROW_TABLE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/sqlite.h"
#include "store/row.h"

namespace cmo::store::internal {

// The schema step that creates rows, digests and the store's settings.
extern const std::string_view kRowTableSchema;
extern const std::string_view kRowOffsetSchema;

class RowTable;

// A store's database opened with the row tables plus its own (`component`, `schema`).
struct OpenedStore {
  std::unique_ptr<base::SqliteDb> db;
  std::unique_ptr<RowTable> rows;
};
absl::StatusOr<OpenedStore> OpenStore(const std::string& path, bool synchronous_full,
                                      int digest_bits, std::string_view component,
                                      const std::vector<std::string_view>& schema);

// Not thread-safe; borrows the connection.
class RowTable {
 public:
  // Reads (or, for a new store, records) the digest bucket bits.
  static absl::StatusOr<RowTable> Open(base::SqliteDb& db, int digest_bits_if_new);

  absl::StatusOr<std::optional<Row>> Get(std::string_view domain, std::string_view key);
  // Upserts `row`, replacing `old` (the current row, if any) in its bucket's digest.
  absl::Status Put(const Row& row, const std::optional<Row>& old);
  // Removes `old` (the current row) and takes it out of its bucket's digest.
  absl::Status Delete(const Row& old);
  // Deletes up to `limit` tombstones of `domain` committed before `cutoff` (digests follow)
  // and raises the store's tombstone horizon to `cutoff` and its collected-through LSN; returns
  // how many went.
  absl::StatusOr<int64_t> CollectTombstones(std::string_view domain, absl::Time cutoff,
                                            int64_t limit);
  // Before this time tombstones may have been collected: a write older than it for a key the
  // store does not hold cannot be told apart from a deleted key coming back.
  absl::StatusOr<absl::Time> TombstoneHorizon();
  // The highest LSN of a collected tombstone (0: none collected).
  absl::StatusOr<int64_t> CollectedThroughLsn();
  // 2^bits digests of `domain` (0 for empty buckets).
  absl::StatusOr<std::vector<uint64_t>> Digests(std::string_view domain);
  absl::StatusOr<std::vector<Row>> RowsInBucket(std::string_view domain, uint32_t bucket);
  // Every row of `domain` in (bucket, key) order — the table's own order, so a sequential read.
  absl::Status Scan(std::string_view domain,
                    const std::function<void(uint32_t bucket, const Row& row)>& fn);
  absl::StatusOr<int64_t> CountRows(std::string_view domain);
  int digest_bits() const { return bits_; }

 private:
  RowTable(base::SqliteDb& db, int bits) : db_(&db), bits_(bits) {}
  base::SqliteDb* db_;
  int bits_;
};

}  // namespace cmo::store::internal

#endif  // CMO_STORE_INTERNAL_ROW_TABLE_H_
