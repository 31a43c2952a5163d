#include "reconcile/full_scan.h"

#include <chrono>

#include "base/status_macros.h"

namespace cmo::reconcile {

absl::StatusOr<FullScanReport> VerifyDigests(const ScanFn& scan,
                                             const std::vector<uint64_t>& digests) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint64_t> computed(digests.size(), 0);
  FullScanReport report;
  bool out_of_range = false;
  CMO_RETURN_IF_ERROR(scan([&](uint32_t bucket, const store::Row& row) {
    ++report.rows;
    if (bucket >= computed.size()) {
      out_of_range = true;
      return;
    }
    computed[bucket] += store::RowHash(row);  // mod 2^64, as the stores keep it
  }));
  if (out_of_range) {
    return absl::DataLossError("a row's bucket is outside the digest range: the store's "
                               "digest_bits setting does not match its rows");
  }
  report.buckets = static_cast<int64_t>(digests.size());
  for (size_t b = 0; b < digests.size(); ++b) {
    if (computed[b] != digests[b]) report.corrupt_buckets.push_back(static_cast<uint32_t>(b));
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.rows_per_s = report.seconds > 0 ? static_cast<double>(report.rows) / report.seconds : 0;
  return report;
}

}  // namespace cmo::reconcile
