// `cmo bench read`: what the client library costs on the request path. The same random reads
// (uniform keys over a populated replica, 100-byte values, random subjects) run directly on the
// store and through Client::Read on the eventual path under read_your_writes, with 0% and 1%
// shadow sampling, in interleaved rounds of one run; plus the routing decision and token
// handling alone.
#ifndef CMO_ORCHESTRATOR_BENCH_READ_BENCH_H_
#define CMO_ORCHESTRATOR_BENCH_READ_BENCH_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::orchestrator {

struct ReadBenchOptions {
  double seconds = 2;   // per round and variant, in interleaved slices
  int rounds = 3;
  int64_t keys = 100'000;
  int subjects = 10'000;
  int value_bytes = 100;
  std::string work_dir = "/tmp";
  uint64_t seed = 1;
  // Server stores (postgresql://...): the rows go there (re-upserted if present) and both the
  // direct reads and the client's read the replica over the network. Empty: SQLite files.
  std::string primary_url;
  std::string replica_url;
};

// Fields: direct_ops_per_s, client_ops_per_s_0pct, client_ops_per_s_1pct (over all slices),
// overhead_0pct / overhead_1pct (1 - client/direct), decide_token_ns (median of batches),
// samples_compared, samples_dropped.
absl::StatusOr<nlohmann::json> RunReadBench(const ReadBenchOptions& options);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_READ_BENCH_H_
