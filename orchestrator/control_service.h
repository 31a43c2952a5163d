// The control plane of a deployment in one process, from one place: the data-path roles it is
// given (Server: outbox relay, appliers and, with role all, the control loop with budgets and
// breakers and the reconciliation scheduler), the plan executor, and the HTTP API. It owns
// their lifetimes: `cmo serve` and `cmo demo` both start it, and stop it in the one safe order
// (no new API calls, then the executor between two ticks, then the data path drains).
#ifndef CMO_ORCHESTRATOR_CONTROL_SERVICE_H_
#define CMO_ORCHESTRATOR_CONTROL_SERVICE_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "migrations/plan_executor.h"
#include "orchestrator/api/api_server.h"
#include "orchestrator/service/serve_config.h"
#include "orchestrator/service/server.h"
#include "orchestrator/service/executor_lock.h"

namespace cmo::orchestrator {

// Start(), StartExecutor() and Stop() from one thread; the rest from any.
class ControlService {
 public:
  // Starts the data path of `config.role` and, when `config.listen` is set, the API.
  static absl::StatusOr<std::unique_ptr<ControlService>> Start(const ServeConfig& config,
                                                               const base::Clock& clock);
  ~ControlService();

  // Starts carrying out applied plans, every `config.executor_every` (role all only). Takes
  // the state dir's executor lock first: kFailedPrecondition, naming the holder, when another
  // process (`cmo plan run`, a second `cmo serve`) already runs an executor on it.
  absl::Status StartExecutor();
  // What the executor did since the last call (steps started, phases done), for the log.
  std::vector<migrations::TickEvent> TakePlanEvents();

  Server& data_path() { return *server_; }
  ApiServer* api() { return api_.get(); }  // null when the API is off
  // The first error of any part (the others keep running).
  absl::Status error();
  absl::Status Stop();

 private:
  ControlService(const ServeConfig& config, const base::Clock& clock)
      : config_(config), clock_(clock) {}
  void RunExecutor();

  const ServeConfig config_;
  const base::Clock& clock_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<ExecutorLock> executor_lock_;
  std::thread executor_;
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  std::mutex mu_;
  absl::Status executor_error_;                   // guarded by mu_
  std::vector<migrations::TickEvent> events_;     // guarded by mu_
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_CONTROL_SERVICE_H_
