// The primary on a PostgreSQL server, for app fleets on many hosts. Its tables live in their
// own schema (StoreOptions::pg_schema, default "cmo"), created on first use beside the app's.
// LSNs come from a counter row whose lock every writing transaction takes first and holds to
// COMMIT, so commit order is LSN order (store/README.md says why this and not the alternatives).
#ifndef CMO_STORE_PG_PRIMARY_STORE_H_
#define CMO_STORE_PG_PRIMARY_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "store/primary_store.h"

namespace cmo::store {

namespace internal {
class PgSession;
}

class PgPrimaryStore final : public PrimaryStore {
 public:
  static absl::StatusOr<std::unique_ptr<PgPrimaryStore>> Open(const std::string& uri,
                                                              const base::Clock& clock,
                                                              const StoreOptions& options = {});
  ~PgPrimaryStore() override;

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
  PgPrimaryStore(std::unique_ptr<internal::PgSession> session, const base::Clock& clock);
  std::unique_ptr<internal::PgSession> session_;
  const base::Clock& clock_;
};

}  // namespace cmo::store

#endif  // CMO_STORE_PG_PRIMARY_STORE_H_
