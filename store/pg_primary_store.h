// The primary on a PostgreSQL server, for app fleets on many hosts. Its tables live in their
// own schema (StoreOptions::pg_schema, default "cmo"), created on first use beside the app's.
// LSNs come from a counter row whose lock every writing transaction takes first and holds to
// COMMIT, so commit order is LSN order (store/README.md says why this and not the alternatives).
#ifndef CMO_STORE_PG_PRIMARY_STORE_H_
#define CMO_STORE_PG_PRIMARY_STORE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "store/internal/pg_row_store.h"
#include "store/primary_store.h"

namespace cmo::store {

class PgPrimaryStore final : public internal::PgRowStore<PrimaryStore> {
 public:
  static absl::StatusOr<std::unique_ptr<PgPrimaryStore>> Open(const std::string& uri,
                                                              const base::Clock& clock,
                                                              const StoreOptions& options = {});
  ~PgPrimaryStore() override;

  absl::StatusOr<std::vector<int64_t>> Write(std::span<const WriteRequest> writes) override;
  absl::StatusOr<int64_t> LastLsn() override;
  absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(int64_t after_lsn, int limit) override;
  absl::Status SetPublishedThrough(int64_t lsn) override;
  absl::StatusOr<int64_t> PublishedThrough() override;
  absl::StatusOr<int64_t> RequestRepublish() override;
  absl::StatusOr<int64_t> RepublishRequests() override;
  absl::Status TrimOutbox(int64_t lsn) override;
  absl::StatusOr<int64_t> OutboxSize() override;

 private:
  PgPrimaryStore(std::unique_ptr<internal::PgSession> session, const base::Clock& clock);
  const base::Clock& clock_;
  // Every LSN at or below is deleted from the outbox (committed). A trim deletes only the range
  // above it: a deleted row's index entry stays until VACUUM, and an open range (lsn <= X) walks
  // all of them — the whole history since the last vacuum, every time (184 ms per trim in the
  // pipeline bench, growing with the run).
  std::atomic<int64_t> trimmed_through_{0};
};

}  // namespace cmo::store

#endif  // CMO_STORE_PG_PRIMARY_STORE_H_
