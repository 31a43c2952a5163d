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
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "base/sqlite.h"
#include "store/row.h"

namespace cmo::store::internal {

// The schema step that creates rows, digests and the store's settings.
extern const std::string_view kRowTableSchema;
extern const std::string_view kRowOffsetSchema;

class RowTable;

// The bucket digest changes of one write transaction, summed per bucket and written once at its
// end: a batch of writes updates each bucket's digest row once instead of once per write.
// Dropped unwritten when the transaction fails (its rows roll back with it).
class DigestDeltas {
 private:
  friend class RowTable;
  struct Delta {
    uint64_t sum = 0;  // mod 2^64, as the digest itself
    int64_t rows = 0;
  };
  // Hashed by bucket per domain (a write adds to one of thousands of buckets, and an ordered
  // map keyed by a (domain, bucket) pair was 1.4% of a writer's CPU); sorted once at commit,
  // so the digest rows are still written in key order (neighbouring B-tree pages).
  struct Domain {
    std::string name;
    absl::flat_hash_map<uint32_t, Delta> buckets;
  };
  Delta& At(std::string_view domain, uint32_t bucket);
  std::vector<Domain> domains_;  // a transaction touches one domain, or a few
};

// A store's database opened with the row tables plus its own (`component`, `schema`).
struct OpenedStore {
  std::unique_ptr<base::SqliteDb> db;
  std::unique_ptr<RowTable> rows;
};
absl::StatusOr<OpenedStore> OpenStore(const std::string& path, bool synchronous_full,
                                      int digest_bits, std::string_view component,
                                      const std::vector<std::string_view>& schema);

// What a write needs to know of the row it replaces: its version, and its hash to take out of
// the bucket digest.
struct StoredVersion {
  int64_t lsn = 0;
  uint64_t hash = 0;
  static StoredVersion Of(const Row& row) { return {row.lsn, RowHash(row)}; }
};

// Not thread-safe; borrows the connection.
class RowTable {
 public:
  // Reads (or, for a new store, records) the digest bucket bits.
  static absl::StatusOr<RowTable> Open(base::SqliteDb& db, int digest_bits_if_new);

  absl::StatusOr<std::optional<Row>> Get(std::string_view domain, std::string_view key);
  // The current row's version, read in place: no Row is built (the write path's read).
  absl::StatusOr<std::optional<StoredVersion>> Version(std::string_view domain,
                                                       std::string_view key);
  // Upserts `row`, replacing `old` (the current row, if any) in its bucket's digest.
  absl::Status Put(const Row& row, const std::optional<StoredVersion>& old, DigestDeltas& digests);
  // Removes `old` (the current row) and takes it out of its bucket's digest.
  absl::Status Delete(const Row& old, DigestDeltas& digests);
  // Writes the transaction's digest changes, then commits it. Every transaction that puts or
  // deletes rows ends here, so rows and digests never disagree.
  absl::Status Commit(DigestDeltas& digests, base::WriteTransaction& txn);
  // Deletes up to `limit` tombstones of `domain` committed before `cutoff` (digests follow)
  // and raises the store's tombstone horizon to `cutoff` and its collected-through LSN; returns
  // how many went.
  absl::StatusOr<int64_t> CollectTombstones(std::string_view domain, absl::Time cutoff,
                                            int64_t limit, DigestDeltas& digests);
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
  absl::StatusOr<std::vector<std::string>> Domains();
  int digest_bits() const { return bits_; }

 private:
  RowTable(base::SqliteDb& db, int bits) : db_(&db), bits_(bits) {}
  absl::Status PrepareHot();
  // Binds and steps get_ for one key; true when the row exists.
  absl::StatusOr<bool> Seek(base::Statement::Scope& s, std::string_view domain,
                            std::string_view key);

  base::SqliteDb* db_;
  int bits_;
  // The statements of every write, looked up once (not by their SQL text on each use).
  base::Statement* get_ = nullptr;
  base::Statement* upsert_ = nullptr;
  base::Statement* digest_ = nullptr;
};

}  // namespace cmo::store::internal

#endif  // CMO_STORE_INTERNAL_ROW_TABLE_H_
