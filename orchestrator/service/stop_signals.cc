#include "orchestrator/service/stop_signals.h"

#include <pthread.h>

namespace cmo::orchestrator {

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

int StopSignals::Wait(absl::Duration timeout) const {
  const timespec t = absl::ToTimespec(timeout);
  const int sig = sigtimedwait(&set_, nullptr, &t);
  return sig > 0 ? sig : 0;
}

}  // namespace cmo::orchestrator
