// The authoritative store ("primary"): assigns every write its LSN and records the change in a
// transactional outbox in the same transaction, so a change is never committed without being
// queued for replication, nor queued without being committed.
#ifndef CMO_STORE_PRIMARY_STORE_H_
#define CMO_STORE_PRIMARY_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "store/row.h"

namespace cmo::base {
class SqliteDb;
}

namespace cmo::store {

namespace internal {
class RowTable;
}

struct WriteRequest {
  std::string domain;
  std::string key;
  std::string value;
  bool tombstone = false;  // a delete
  std::string op;          // the app operation that wrote it (for tracing divergence)
  std::string subject;
};

// A committed change waiting in the outbox until every region has applied it.
struct OutboxEntry {
  Row row;
  std::string op;
  std::string subject;
};

struct StoreOptions {
  int digest_bits = 12;  // 4096 digest buckets per domain; fixed when the store is created
  bool synchronous_full = true;
};

// Not thread-safe: one PrimaryStore per thread (SQLite serializes writers across them).
class PrimaryStore {
 public:
  static absl::StatusOr<std::unique_ptr<PrimaryStore>> Open(const std::string& path,
                                                            const base::Clock& clock,
                                                            const StoreOptions& options = {});
  ~PrimaryStore();

  // Commits the writes in one transaction with consecutive LSNs; returns them in order.
  absl::StatusOr<std::vector<int64_t>> Write(std::span<const WriteRequest> writes);

  absl::StatusOr<std::optional<Row>> Get(std::string_view domain, std::string_view key);
  absl::StatusOr<int64_t> LastLsn();

  // Outbox entries with LSN > after_lsn, in LSN order, at most `limit`.
  absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(int64_t after_lsn, int limit);
  // Every LSN <= lsn has been delivered to Kafka (acknowledged).
  absl::Status SetPublishedThrough(int64_t lsn);
  absl::StatusOr<int64_t> PublishedThrough();
  // Deletes entries with LSN <= lsn: call only once every region has applied them.
  absl::Status TrimOutbox(int64_t lsn);
  absl::StatusOr<int64_t> OutboxSize();

  absl::StatusOr<std::vector<uint64_t>> Digests(std::string_view domain);
  absl::StatusOr<std::vector<Row>> RowsInBucket(std::string_view domain, uint32_t bucket);
  // Tombstone collection: deletes tombstones of `domain` committed before `cutoff` (at most
  // `limit` per call) and raises the store's horizon (see internal/row_table.h). Run it with the
  // same cutoff on the primary and every replica, a grace period longer than the longest
  // tolerated replica downtime in the past.
  absl::StatusOr<int64_t> CollectTombstones(std::string_view domain, absl::Time cutoff,
                                            int64_t limit = 100'000);
  absl::StatusOr<absl::Time> TombstoneHorizon();
  absl::StatusOr<int64_t> CollectedThroughLsn();
  // Every row of `domain`, in (bucket, key) order (full-scan verification of the digests).
  absl::Status Scan(std::string_view domain,
                    const std::function<void(uint32_t bucket, const Row& row)>& fn);
  absl::StatusOr<std::vector<std::string>> Domains();
  int digest_bits() const;

 private:
  PrimaryStore(std::unique_ptr<base::SqliteDb> db, std::unique_ptr<internal::RowTable> rows,
               const base::Clock& clock);
  absl::StatusOr<int64_t> Setting(std::string_view name);
  absl::Status SetSetting(std::string_view name, int64_t value);

  std::unique_ptr<base::SqliteDb> db_;
  std::unique_ptr<internal::RowTable> rows_;
  const base::Clock& clock_;
};

}  // namespace cmo::store

#endif  // CMO_STORE_PRIMARY_STORE_H_
