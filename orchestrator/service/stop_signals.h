// SIGTERM/SIGINT for long-running commands (`cmo serve`, `cmo plan run`): blocked in every
// thread and taken synchronously by the main loop, so a stop request lands between two units
// of work and data-path threads never see a signal.
#ifndef CMO_ORCHESTRATOR_SERVICE_STOP_SIGNALS_H_
#define CMO_ORCHESTRATOR_SERVICE_STOP_SIGNALS_H_

#include <signal.h>

#include "absl/time/time.h"

namespace cmo::orchestrator {

// Not thread-safe: construct in the main thread before starting any other thread (threads
// inherit the blocked mask).
class StopSignals {
 public:
  StopSignals();
  // Waits up to `timeout`; returns the stop signal received (SIGTERM or SIGINT), or 0.
  int Wait(absl::Duration timeout) const;

 private:
  sigset_t set_;
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_STOP_SIGNALS_H_
