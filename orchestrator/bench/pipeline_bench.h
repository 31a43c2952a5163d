// `cmo bench pipeline`: drives primary write -> outbox -> Kafka (embedded) -> applier -> replica
// with uniformly random keys and 100-byte values, and measures, in the same run on the same
// disk and cluster, the two limits that bound it: raw batched SQLite upserts and raw
// librdkafka produce->consume.
#ifndef CMO_ORCHESTRATOR_BENCH_PIPELINE_BENCH_H_
#define CMO_ORCHESTRATOR_BENCH_PIPELINE_BENCH_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::orchestrator {

struct PipelineBenchOptions {
  int seconds = 30;
  int64_t rate = 0;  // changes/s offered by the writer; 0 = as fast as it can
  int64_t keys = 1'000'000;
  int value_bytes = 100;
  int batch = 10000;  // writes per primary transaction (the raw SQLite limit's best batch)
  // At --rate max, how far (in changes) the writer may run ahead of the replica. Without a
  // bound the writer takes the CPU the pipe needs and lag grows without end: "max" means the
  // highest rate the pipe sustains, so the writer waits for the replica beyond this. Four
  // writer batches: one being written, one in Kafka, one being applied, and one of slack for a
  // watermark that is read every ~200 ms — with two, the stages took turns instead of
  // overlapping and the applier committed smaller (costlier) batches.
  int64_t max_ahead = 40'000;
  std::string work_dir = "/tmp";  // where the temporary stores go (same disk as state dirs)
  bool limits = true;             // also measure the store's and Kafka's limits
  // Server stores (postgresql://...): the pipeline runs on them, and the store limit is
  // pg_limit_per_s, raw batched upserts into a plain table on the replica's server. Empty:
  // SQLite files in a temp dir, limit sqlite_limit_per_s.
  std::string primary_url;
  std::string replica_url;
  // A real Kafka cluster (host:port,...) instead of the embedded one, for the pipeline and
  // kafka_limit_per_s alike; the run's topics are its own and deleted at the end.
  std::string kafka;
  // The relay publishes in Kafka transactions (kafka.transactional_id) and the report adds
  // relay_transactions and relay_aborted_transactions.
  bool transactional = false;
  uint64_t seed = 1;
};

// Runs the benchmark; returns the JSON report (fields in docs/BENCHMARKS.md).
absl::StatusOr<nlohmann::json> RunPipelineBench(const PipelineBenchOptions& options);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_PIPELINE_BENCH_H_
