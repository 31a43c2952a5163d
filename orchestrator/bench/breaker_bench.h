// `cmo bench breaker`: how fast a budget breach sends an op back to strong on every client.
// Runs `cmo serve`'s data path and control loop in this process (embedded Kafka, one region),
// N client processes (`cmo bench breaker-client`) reading an op in ramp 100% with every read
// shadow-compared, and then, `trips` times: corrupts 10% of the replica's rows (a divergence
// burst), finds the first telemetry window that reports it, waits until every client routes the
// op to strong, repairs the replica and waits for the breaker to probe and close again.
#ifndef CMO_ORCHESTRATOR_BENCH_BREAKER_BENCH_H_
#define CMO_ORCHESTRATOR_BENCH_BREAKER_BENCH_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cmo::orchestrator {

struct BreakerBenchOptions {
  int clients = 3;
  int trips = 20;
  int keys = 2000;
  int reads_per_s = 500;  // per client
  int healthy_seconds = 0;  // a fault-free run first: any trip in it is a false trip
  std::string work_dir = "/tmp";
  std::string cmo_binary;  // for the client processes; default /proc/self/exe
  // A real Kafka cluster (host:port,...) instead of the embedded one; the run's change topic
  // is its own and deleted at the end (cmo.flags and cmo.telemetry are shared and kept).
  std::string kafka;
};

// Fields: p50_ms, p99_ms, max_ms (first bad telemetry window → last client routing strong),
// trips, false_trips (opens not caused by an injected burst), healthy_seconds, latencies_ms.
absl::StatusOr<nlohmann::json> RunBreakerBench(const BreakerBenchOptions& options);

struct BreakerClientOptions {
  std::string state_dir;
  std::string op;
  std::string region = "eu-west";
  int keys = 2000;
  int reads_per_s = 500;
  std::string out;  // event lines "<unix ms> <breaker state> <revision>"
  double seconds = 600;
};

// The client side: reads until killed or `seconds` pass, logging every breaker state it routes by.
absl::Status RunBreakerClient(const BreakerClientOptions& options);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_BREAKER_BENCH_H_
