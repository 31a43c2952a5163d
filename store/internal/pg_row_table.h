// The rows and digests tables on PostgreSQL, shared by the primary and the replica: batched
// writes (a batch costs the same few round trips whatever its size: keys are sent as arrays and
// unnest()ed server-side) and the read side every store offers.
#ifndef CMO_STORE_INTERNAL_PG_ROW_TABLE_H_
#define CMO_STORE_INTERNAL_PG_ROW_TABLE_H_

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/postgres.h"
#include "store/row.h"

namespace cmo::store::internal {

// bytea in PostgreSQL's hex text format, both ways.
std::string ByteaParam(std::string_view bytes);
absl::StatusOr<std::string> ByteaValue(std::string_view text);

// A parameter of PgStatementOf (below): text, or a PgArray's binary bytes.
struct PgBinary {
  std::string bytes;
};

// A whole column of a batch, bound as one array parameter in PostgreSQL's binary array format
// (array_recv): no quoting or hex to build, none for the server to parse, and bytea at its own
// size on the wire. The element type must match the statement's cast ($1::bytea[] for kBytea,
// $2::int[] for kInt4, ...): the server refuses an array of another element type.
class PgArray {
 public:
  enum class Type { kText, kBytea, kInt8, kInt4, kBool };
  explicit PgArray(Type type) : type_(type) {}
  void Add(std::string_view bytes);  // kText, kBytea
  void Add(int64_t v);               // kInt8, kInt4 (which must fit)
  void Add(bool v);                  // kBool
  PgBinary Done() &&;

 private:
  Type type_;
  int32_t count_ = 0;
  std::string elements_;
};

using PgArg = std::variant<std::string, PgBinary>;
// The statement with each argument bound in its own format.
base::PgStatement PgStatementOf(std::string sql, std::vector<PgArg> args);

// BEGIN now, ROLLBACK on destruction unless committed.
class PgTxn {
 public:
  explicit PgTxn(base::PgConnection& db) : db_(db) {}
  ~PgTxn();
  absl::Status Begin();
  absl::Status Commit();
  // For a transaction whose BEGIN and COMMIT travel in pipelines (kBegin, kCommit): Sent()
  // when BEGIN is sent (from then on it is rolled back unless Done()), Done() after COMMIT.
  void Sent() { open_ = true; }
  void Done() { open_ = false; }
  static base::PgStatement BeginStatement() { return {"BEGIN", {}}; }
  static base::PgStatement CommitStatement() { return {"COMMIT", {}}; }

 private:
  base::PgConnection& db_;
  bool open_ = false;
};

// Takes the store's writer lock for the current transaction: a row of `settings`, locked to
// COMMIT. Every transaction that changes rows or digests holds it, so their digest deltas,
// computed from versions read before writing, are never computed from a stale read. On the
// primary it is the LSN counter itself (see PgPrimaryStore::Write). Returns the row's value.
absl::StatusOr<int64_t> PgLockWriters(base::PgConnection& db, std::string_view row);
base::PgStatement PgLockWritersStatement(std::string_view row);

absl::StatusOr<int64_t> PgSetting(base::PgConnection& db, std::string_view name);
absl::Status PgSetSetting(base::PgConnection& db, std::string_view name, int64_t value);

struct PgVersion {
  int64_t lsn = 0;
  uint64_t hash = 0;  // RowHash
};

// One transaction's row changes, buffered and sent in Flush. Callers Prefetch every key they
// will touch first (one round trip), then decide with Version(), which sees the batch's own
// earlier changes. A key written twice in a batch is sent once (its last version) — ON CONFLICT
// DO UPDATE cannot touch a row twice in one statement — while the digests count both.
class PgRowWriter {
 public:
  PgRowWriter(base::PgConnection& db, int bits) : db_(db), bits_(bits) {}

  absl::Status Prefetch(std::span<const std::pair<std::string_view, std::string_view>> keys);
  // The same in two halves, so the read can share a pipeline with other statements: the
  // statement (nullopt when every key is known already), then its result.
  std::optional<base::PgStatement> PrefetchStatement(
      std::span<const std::pair<std::string_view, std::string_view>> keys);
  absl::Status TakePrefetched(const base::PgResult& result);
  // The key's version as of this batch; kInternal for a key not prefetched (a bug).
  absl::StatusOr<std::optional<PgVersion>> Version(std::string_view domain,
                                                   std::string_view key) const;
  // Records a version known without a read (rows just selected for collection).
  void Known(const Row& row);
  absl::Status Put(const Row& row);
  absl::Status Delete(std::string_view domain, std::string_view key);
  // Deletes, upserts and digest deltas: at most three statements, in one pipeline.
  absl::Status Flush();
  // The same statements, for the caller's own pipeline; the batch is then empty again.
  std::vector<base::PgStatement> FlushStatements();

 private:
  using Key = std::pair<std::string, std::string>;
  struct Delta {
    uint64_t sum = 0;
    int64_t rows = 0;
  };
  void AddDigestStatement(std::vector<base::PgStatement>& out);

  base::PgConnection& db_;
  int bits_;
  absl::flat_hash_map<Key, std::optional<PgVersion>> current_;
  absl::flat_hash_map<Key, std::optional<Row>> pending_;  // nullopt: delete
  absl::flat_hash_map<std::pair<std::string, uint32_t>, Delta> digests_;
};

absl::StatusOr<std::optional<Row>> PgGetRow(base::PgConnection& db, int bits,
                                            std::string_view domain, std::string_view key);
absl::StatusOr<std::vector<uint64_t>> PgDigests(base::PgConnection& db, std::string_view domain,
                                                int bits);
absl::StatusOr<std::vector<Row>> PgRowsInBucket(base::PgConnection& db, std::string_view domain,
                                                uint32_t bucket);
absl::StatusOr<std::vector<Row>> PgRowsInBuckets(base::PgConnection& db, std::string_view domain,
                                                 std::span<const uint32_t> buckets);
absl::StatusOr<std::vector<RowSummary>> PgSummariesInBuckets(base::PgConnection& db,
                                                             std::string_view domain,
                                                             std::span<const uint32_t> buckets);
absl::StatusOr<std::vector<Row>> PgRowsOfKeys(base::PgConnection& db, int bits,
                                              std::string_view domain,
                                              std::span<const std::string> keys);
// In (bucket, key) order, a page at a time: memory stays flat at any table size.
absl::Status PgScan(base::PgConnection& db, std::string_view domain,
                    const std::function<void(uint32_t bucket, const Row& row)>& fn);
absl::StatusOr<int64_t> PgCountRows(base::PgConnection& db, std::string_view domain);
absl::StatusOr<std::vector<std::string>> PgDomains(base::PgConnection& db);
// Tombstone collection inside the caller's transaction, which holds the writer lock.
absl::StatusOr<int64_t> PgCollectTombstones(base::PgConnection& db, int bits,
                                            std::string_view domain, absl::Time cutoff,
                                            int64_t limit);
absl::StatusOr<absl::Time> PgTombstoneHorizon(base::PgConnection& db);

}  // namespace cmo::store::internal

#endif  // CMO_STORE_INTERNAL_PG_ROW_TABLE_H_
