// Rows and their bucket digests in PostgreSQL (cmo_rows, cmo_digests), shared by the
// PostgreSQL primary and replica stores as RowTable is by the SQLite ones. Every method runs
// inside the caller's transaction; digest changes are summed per bucket and written once at
// Flush, before the caller commits, so a row and its digest always change together.
#ifndef CMO_STORE_INTERNAL_PG_ROW_TABLE_H_
#define CMO_STORE_INTERNAL_PG_ROW_TABLE_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/postgres.h"
#include "store/row.h"

namespace cmo::store::internal {

// Creates the shared tables (idempotent) and reads or records the digest bucket bits.
absl::StatusOr<int> OpenPgRowTables(base::PgConnection& db, int digest_bits_if_new);

// bytea in text format ("\x" + hex), both ways.
std::string ByteaParam(std::string_view bytes);
absl::StatusOr<std::string> ByteaValue(std::string_view text);

// Rolls back unless committed: no early return leaves half a transaction behind.
class PgTxn {
 public:
  explicit PgTxn(base::PgConnection& db) : db_(db) {}
  ~PgTxn();
  absl::Status Begin();
  absl::Status Commit();

 private:
  base::PgConnection& db_;
  bool open_ = false;
};

// Not thread-safe; borrows the connection. One per transaction.
class PgRowWriter {
 public:
  PgRowWriter(base::PgConnection& db, int bits) : db_(db), bits_(bits) {}
  // The stored version of a key (lsn, hash), or nullopt.
  absl::StatusOr<std::optional<std::pair<int64_t, uint64_t>>> Version(std::string_view domain,
                                                                      std::string_view key);
  // Upserts `row`, replacing `old` (its stored version) in its bucket's digest.
  absl::Status Put(const Row& row, const std::optional<std::pair<int64_t, uint64_t>>& old);
  // Writes the summed digest changes; call once, right before COMMIT.
  absl::Status Flush();

 private:
  base::PgConnection& db_;
  int bits_;
  std::map<std::pair<std::string, uint32_t>, std::pair<uint64_t, int64_t>> deltas_;
};

absl::StatusOr<std::optional<Row>> PgGetRow(base::PgConnection& db, std::string_view domain,
                                            std::string_view key);
absl::StatusOr<std::vector<uint64_t>> PgDigests(base::PgConnection& db, std::string_view domain,
                                                int bits);

}  // namespace cmo::store::internal

#endif  // CMO_STORE_INTERNAL_PG_ROW_TABLE_H_
