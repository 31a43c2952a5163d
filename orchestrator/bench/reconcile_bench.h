// `cmo bench reconcile`: reconciliation cost at scale. Builds a primary and a replica holding
// the same `keys` rows (100-byte values), then measures, in one run: the digest compare of the
// two in-sync stores, finding and healing `divergent` random corrupted keys, a full-scan digest
// verification (rows/s), and the naive alternative — an ordered full scan of both stores
// comparing row by row.
#ifndef CMO_ORCHESTRATOR_BENCH_RECONCILE_BENCH_H_
#define CMO_ORCHESTRATOR_BENCH_RECONCILE_BENCH_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::orchestrator {

struct ReconcileBenchOptions {
  int64_t keys = 1'000'000;
  int divergent = 1000;
  int digest_bits = 16;
  std::string work_dir = "/tmp";
  uint64_t seed = 7;
  // PostgreSQL stores (postgresql://...; may be the same server): filled through the real
  // write path (primary writes, replica applies the outbox), in a schema of their own
  // (cmo_bench_PID) dropped at the end. Empty: SQLite files in work_dir.
  std::string primary_url;
  std::string replica_url;
  // PostgreSQL: keep the filled stores in schema cmo_bench_keys_KEYS and reuse them on the next
  // run with the same keys and digest bits (filling 10M keys takes minutes).
  bool keep_data = false;
};

absl::StatusOr<nlohmann::json> RunReconcileBench(const ReconcileBenchOptions& options);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_RECONCILE_BENCH_H_
