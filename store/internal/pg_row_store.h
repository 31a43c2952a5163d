// The read side of RowStore on PostgreSQL, shared by PgPrimaryStore and PgReplicaStore (see
// sqlite_row_store.h for why a template over the interface).
#ifndef CMO_STORE_INTERNAL_PG_ROW_STORE_H_
#define CMO_STORE_INTERNAL_PG_ROW_STORE_H_

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/postgres.h"
#include "base/status_macros.h"
#include "store/internal/pg_row_table.h"
#include "store/internal/pg_session.h"

namespace cmo::store::internal {

template <typename Interface>
class PgRowStore : public Interface {
 public:
  absl::StatusOr<std::optional<Row>> Get(std::string_view domain, std::string_view key) override {
    return session_->Run(
        [&](base::PgConnection& db) { return PgGetRow(db, session_->digest_bits(), domain, key); });
  }
  absl::StatusOr<std::vector<uint64_t>> Digests(std::string_view domain) override {
    return session_->Run(
        [&](base::PgConnection& db) { return PgDigests(db, domain, session_->digest_bits()); });
  }
  absl::StatusOr<std::vector<Row>> RowsInBucket(std::string_view domain, uint32_t bucket) override {
    return session_->Run(
        [&](base::PgConnection& db) { return PgRowsInBucket(db, domain, bucket); });
  }
  absl::StatusOr<std::vector<RowSummary>> SummariesInBuckets(
      std::string_view domain, std::span<const uint32_t> buckets) override {
    return session_->Run(
        [&](base::PgConnection& db) { return PgSummariesInBuckets(db, domain, buckets); });
  }
  absl::StatusOr<std::vector<Row>> RowsOfKeys(std::string_view domain,
                                              std::span<const std::string> keys) override {
    return session_->Run([&](base::PgConnection& db) {
      return PgRowsOfKeys(db, session_->digest_bits(), domain, keys);
    });
  }
  absl::Status Scan(std::string_view domain,
                    const std::function<void(uint32_t bucket, const Row& row)>& fn) override {
    CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
    return PgScan(*db, domain, fn);  // not retried: fn has seen part of it
  }
  absl::StatusOr<int64_t> CountRows(std::string_view domain) override {
    return session_->Run([&](base::PgConnection& db) { return PgCountRows(db, domain); });
  }
  absl::StatusOr<std::vector<std::string>> Domains() override {
    return session_->Run([&](base::PgConnection& db) { return PgDomains(db); });
  }
  absl::StatusOr<int64_t> CollectTombstones(std::string_view domain, absl::Time cutoff,
                                            int64_t limit) override {
    CMO_ASSIGN_OR_RETURN(base::PgConnection * db, session_->Db());
    PgTxn txn(*db);
    CMO_RETURN_IF_ERROR(txn.Begin());
    CMO_RETURN_IF_ERROR(PgLockWriters(*db, writer_lock_).status());
    CMO_ASSIGN_OR_RETURN(int64_t n,
                         PgCollectTombstones(*db, session_->digest_bits(), domain, cutoff, limit));
    CMO_RETURN_IF_ERROR(txn.Commit());
    return n;
  }
  absl::StatusOr<absl::Time> TombstoneHorizon() override {
    return session_->Run([&](base::PgConnection& db) { return PgTombstoneHorizon(db); });
  }
  absl::StatusOr<int64_t> CollectedThroughLsn() override {
    return session_->Run(
        [&](base::PgConnection& db) { return PgSetting(db, "collected_through_lsn"); });
  }
  int digest_bits() const override { return session_->digest_bits(); }

 protected:
  // `writer_lock`: the settings row every row-changing transaction of this store locks.
  PgRowStore(std::unique_ptr<PgSession> session, std::string writer_lock)
      : session_(std::move(session)), writer_lock_(std::move(writer_lock)) {}

  std::unique_ptr<PgSession> session_;
  std::string writer_lock_;
};

}  // namespace cmo::store::internal

#endif  // CMO_STORE_INTERNAL_PG_ROW_STORE_H_
