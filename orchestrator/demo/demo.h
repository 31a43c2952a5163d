// `cmo demo`: the whole migration on a laptop, with real measured numbers. Starts everything
// embedded (state dir, mock Kafka, two replica regions with simulated link lag, the control
// loop, the HTTP API and dashboard), applies migrations/social-network.yaml with time
// compressed, drives a synthetic power-law workload through the client library, and tells
// the story: dual-write, shadow comparison (only `lag` mismatches), ramp 1% -> 10% -> 50%, an
// injected replica fault that burns the budget and trips the breaker, the half-open probe and
// recovery, reconciliation healing what the fault broke, and a divergence report.
#ifndef CMO_ORCHESTRATOR_DEMO_DEMO_H_
#define CMO_ORCHESTRATOR_DEMO_DEMO_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace cmo::orchestrator {

struct DemoOptions {
  std::string state_dir;  // must not exist yet, or be empty
  std::string plan_file;
  absl::Duration duration = absl::Seconds(150);
  uint64_t seed = 1;
  bool faults = true;
  int users = 10'000;
  int ops_per_s = 2000;  // the whole workload, over two client regions
  std::string listen = "127.0.0.1:0";
  bool live = false;  // an updating status line (a TTY); else a plain line every 5 s
};

// OK when the story ran to its end (with faults: the breaker tripped, recovered and
// reconciliation healed the damage); otherwise an error saying which part did not happen.
absl::Status RunDemo(const DemoOptions& options, std::ostream& out);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_DEMO_DEMO_H_
