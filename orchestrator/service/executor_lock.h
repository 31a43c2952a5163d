// One plan executor per state dir. Two executors on one control state would both read a step's
// gates as held and both start the next step; the executor lock makes the second refuse to
// start, naming the process that holds it. An advisory lock (flock) on STATE_DIR/executor.lock:
// the kernel releases it when its holder exits, even by kill -9, so it never goes stale.
#ifndef CMO_ORCHESTRATOR_SERVICE_EXECUTOR_LOCK_H_
#define CMO_ORCHESTRATOR_SERVICE_EXECUTOR_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::orchestrator {

class ExecutorLock {
 public:
  // `holder` describes this process in the lock file ("cmo serve", "cmo plan run").
  // kFailedPrecondition when another live process holds it, naming its pid and command.
  static absl::StatusOr<std::unique_ptr<ExecutorLock>> Acquire(const std::string& state_dir,
                                                               const std::string& holder);
  ~ExecutorLock();
  ExecutorLock(const ExecutorLock&) = delete;
  ExecutorLock& operator=(const ExecutorLock&) = delete;

 private:
  explicit ExecutorLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_EXECUTOR_LOCK_H_
