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
#include "store/row_store.h"

namespace cmo::store {

struct WriteRequest {
  std::string domain;
  std::string key;
  std::string value;
  bool tombstone = false;  // a delete
  std::string op;          // the app operation that wrote it (for tracing divergence)
  std::string subject;
  // The LSN this write causally follows (Row::depends_on); 0 for none. Must be below the LSN
  // the write gets: a larger one was never committed, and Write refuses it (kInvalidArgument).
  int64_t depends_on = 0;
  // Replicate through the priority channel (shadow/README.md): kept with the outbox row only.
  bool priority = false;
};

// A committed change waiting in the outbox until every region has applied it.
struct OutboxEntry {
  Row row;                // with the op and subject of the write
  bool priority = false;  // WriteRequest::priority: the relay sends it on the priority topic
};

struct StoreOptions {
  int digest_bits = 12;           // 4096 digest buckets per domain; fixed when the store is created
  bool synchronous_full = true;   // SQLite: fsync on every commit
  std::string pg_schema = "cmo";  // PostgreSQL: the schema cmo's tables live in
};

// kInvalidArgument when a write depends on an LSN that is negative or not below its own (the
// writes get first_lsn, first_lsn + 1, ...): a backend calls it once it knows its LSNs.
absl::Status CheckDependencies(std::span<const WriteRequest> writes, int64_t first_lsn);

// The primary side of a store: SQLite (SqlitePrimaryStore) or PostgreSQL (PgPrimaryStore),
// chosen by the URL given to Open. Not thread-safe: one PrimaryStore per thread (the pool in
// the client library leases them); the database serializes what must be serialized.
class PrimaryStore : public RowStore {
 public:
  // `url`: a file path or `sqlite:PATH` (embedded SQLite), or a libpq connection URI
  // `postgresql://user@host:port/db?...` (PostgreSQL; the schema is created on first use).
  // kInvalidArgument for a URL of another scheme.
  static absl::StatusOr<std::unique_ptr<PrimaryStore>> Open(const std::string& url,
                                                            const base::Clock& clock,
                                                            const StoreOptions& options = {});
  ~PrimaryStore() override = default;

  // Commits the writes in one transaction with consecutive LSNs; returns them in order
  // (kInvalidArgument, nothing written, when a write depends on an LSN not below its own). On
  // every backend, a transaction holding LSN n commits before any transaction holding a larger
  // LSN becomes visible (store/README.md): the outbox never shows a gap that fills in later.
  virtual absl::StatusOr<std::vector<int64_t>> Write(std::span<const WriteRequest> writes) = 0;

  virtual absl::StatusOr<int64_t> LastLsn() = 0;

  // Outbox entries with LSN > after_lsn, in LSN order, at most `limit`.
  virtual absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(int64_t after_lsn, int limit) = 0;
  // Every LSN <= lsn has been delivered to Kafka (acknowledged).
  virtual absl::Status SetPublishedThrough(int64_t lsn) = 0;
  virtual absl::StatusOr<int64_t> PublishedThrough() = 0;
  // An applier found the change log lost (retention, a cluster that restarted empty): files a
  // request that the relay re-publish what is not applied everywhere, and returns its number.
  // The relay may run on another machine: the primary is the one store both reach. Numbers
  // grow by one per request; the relay's heartbeats say which request they answer
  // (shadow/outbox_relay.h).
  virtual absl::StatusOr<int64_t> RequestRepublish() = 0;
  // The number of the latest request (0: none yet).
  virtual absl::StatusOr<int64_t> RepublishRequests() = 0;
  // Deletes entries with LSN <= lsn: call only once every region has applied them (so never
  // with an LSN not yet committed).
  virtual absl::Status TrimOutbox(int64_t lsn) = 0;
  virtual absl::StatusOr<int64_t> OutboxSize() = 0;
};

}  // namespace cmo::store

#endif  // CMO_STORE_PRIMARY_STORE_H_
