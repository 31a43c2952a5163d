// The primary store on a PostgreSQL server (issue: run across machines; in progress — not yet
// behind a store interface, so the client, relay and reconciler still use the SQLite stores).
// Same contract as PrimaryStore: a batch of writes gets consecutive LSNs and its outbox rows in
// one transaction, and bucket digests (the same RowHash and buckets as SQLite's, so stores of
// either backend compare digest for digest) change in that transaction too.
//
// Commit order = LSN order: a write transaction takes its LSNs by updating the one counter row
// first, so the row lock is held to commit and the next writer's LSNs are handed out only after
// this one committed or rolled back (store/README.md says why this scheme). A reader of the
// outbox therefore never sees an LSN while a lower one can still commit.
#ifndef CMO_STORE_PG_PRIMARY_STORE_H_
#define CMO_STORE_PG_PRIMARY_STORE_H_

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "store/primary_store.h"
#include "store/row.h"

namespace cmo::base {
class PgConnection;
}

namespace cmo::store {

// Not thread-safe: one per thread (each has its own connection; the server serializes writers).
class PgPrimaryStore {
 public:
  // Connects to `uri` (postgresql://...) and creates cmo's tables (cmo_*) if missing.
  static absl::StatusOr<std::unique_ptr<PgPrimaryStore>> Open(const std::string& uri,
                                                              const base::Clock& clock,
                                                              const StoreOptions& options = {});
  ~PgPrimaryStore();

  absl::StatusOr<std::vector<int64_t>> Write(std::span<const WriteRequest> writes);
  absl::StatusOr<std::optional<Row>> Get(std::string_view domain, std::string_view key);
  absl::StatusOr<int64_t> LastLsn();
  // Committed changes with LSN > after_lsn, in LSN order, at most `limit`.
  absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(int64_t after_lsn, int limit);
  absl::StatusOr<std::vector<uint64_t>> Digests(std::string_view domain);
  int digest_bits() const { return bits_; }

 private:
  PgPrimaryStore(std::unique_ptr<base::PgConnection> db, const base::Clock& clock, int bits);
  std::unique_ptr<base::PgConnection> db_;
  const base::Clock& clock_;
  int bits_;
};

}  // namespace cmo::store

#endif  // CMO_STORE_PG_PRIMARY_STORE_H_
