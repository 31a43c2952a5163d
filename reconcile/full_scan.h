// Full-scan verification of a store's bucket digests: recompute every bucket's digest from its
// rows and compare with the stored one. Digest reconciliation trusts the digests; this is how
// their own corruption (a bug, a hand edit, a disk fault) is found.
#ifndef CMO_RECONCILE_FULL_SCAN_H_
#define CMO_RECONCILE_FULL_SCAN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/row.h"

namespace cmo::reconcile {

struct FullScanReport {
  int64_t rows = 0;
  int64_t buckets = 0;
  std::vector<uint32_t> corrupt_buckets;  // stored digest != digest of the rows
  double seconds = 0;
  double rows_per_s = 0;
};

// Works on either store: `scan` feeds every row of the domain with its bucket (in bucket
// order), `digests` is the store's stored digests of the domain.
using ScanFn = std::function<absl::Status(
    const std::function<void(uint32_t bucket, const store::Row& row)>& fn)>;
absl::StatusOr<FullScanReport> VerifyDigests(const ScanFn& scan,
                                             const std::vector<uint64_t>& digests);

}  // namespace cmo::reconcile

#endif  // CMO_RECONCILE_FULL_SCAN_H_
