// `cmo bench cdc`: change data capture end to end — an app's transactions in its own table on
// the source database, decoded from a logical slot by the CDC relay, through Kafka (embedded),
// applied to a replica — against the raw decode rate of the same WAL: a second slot read by a
// bare reader (replication protocol + pgoutput decoding, nothing else), measured in the same
// run on the same server. Both drain the same backlog, written before either starts.
#ifndef CMO_ORCHESTRATOR_BENCH_CDC_BENCH_H_
#define CMO_ORCHESTRATOR_BENCH_CDC_BENCH_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::orchestrator {

struct CdcBenchOptions {
  std::string primary_url;  // the source database (wal_level=logical)
  std::string replica_url;  // where the replica is kept (postgresql://... or an SQLite path)
  int64_t changes = 200'000;
  int rows_per_transaction = 100;
  int value_bytes = 100;
};

absl::StatusOr<nlohmann::json> RunCdcBench(const CdcBenchOptions& options);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_CDC_BENCH_H_
