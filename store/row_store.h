// The read side every store offers, primary or replica, on any backend: what reconciliation,
// reports and shadow reads need — a row, the bucket digests, the rows of a bucket, a scan —
// and tombstone collection, which must run the same way on the primary and every replica.
#ifndef CMO_STORE_ROW_STORE_H_
#define CMO_STORE_ROW_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "store/row.h"

namespace cmo::store {

class RowStore {
 public:
  virtual ~RowStore() = default;

  virtual absl::StatusOr<std::optional<Row>> Get(std::string_view domain, std::string_view key) = 0;
  virtual absl::StatusOr<std::vector<uint64_t>> Digests(std::string_view domain) = 0;
  virtual absl::StatusOr<std::vector<Row>> RowsInBucket(std::string_view domain,
                                                        uint32_t bucket) = 0;
  // The key and RowHash of every row in these buckets, in no particular order.
  virtual absl::StatusOr<std::vector<RowSummary>> SummariesInBuckets(
      std::string_view domain, std::span<const uint32_t> buckets) = 0;
  // The rows of these keys that exist, in no particular order (one round trip on a server).
  virtual absl::StatusOr<std::vector<Row>> RowsOfKeys(std::string_view domain,
                                                      std::span<const std::string> keys) = 0;
  // Every row of `domain`, in (bucket, key) order (full-scan verification of the digests).
  virtual absl::Status Scan(std::string_view domain,
                            const std::function<void(uint32_t bucket, const Row& row)>& fn) = 0;
  virtual absl::StatusOr<int64_t> CountRows(std::string_view domain) = 0;
  // The domains that have rows (or had: a bucket digest once written).
  virtual absl::StatusOr<std::vector<std::string>> Domains() = 0;
  // Tombstone collection: deletes tombstones of `domain` committed before `cutoff` (at most
  // `limit` per call) and raises the store's horizon (see internal/row_table.h). Run it with the
  // same cutoff on the primary and every replica, a grace period longer than the longest
  // tolerated replica downtime in the past.
  virtual absl::StatusOr<int64_t> CollectTombstones(std::string_view domain, absl::Time cutoff,
                                                    int64_t limit = 100'000) = 0;
  virtual absl::StatusOr<absl::Time> TombstoneHorizon() = 0;
  virtual absl::StatusOr<int64_t> CollectedThroughLsn() = 0;
  virtual int digest_bits() const = 0;
};

}  // namespace cmo::store

#endif  // CMO_STORE_ROW_STORE_H_
