// The control plane of a deployment in one process, from one place: the data-path roles it is
// given (Server: outbox relay, appliers and, with role all, the control loop with budgets and
// breakers and the reconciliation scheduler), the plan executor, and the HTTP API. It owns
// their lifetimes: `cmo serve` and `cmo demo` both start it, and stop it in the one safe order
// (no new API calls, then the executor between two ticks, then the data path drains).
//
// With role control (a PostgreSQL control state shared by two or three instances), the API
// runs from the start and a lease loop decides who leads: the leader runs the control loop,
// the reconciliation scheduler and the plan executor; a follower serves reads, refuses writes
// naming the leader, and takes over when the leader's lease lapses (leader_lease.h).
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
#include "orchestrator/service/executor_lock.h"
#include "orchestrator/service/leader_lease.h"
#include "orchestrator/service/serve_config.h"
#include "orchestrator/service/server.h"
#include "orchestrator/service/webhooks.h"

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
  // Leadership changes since the last call (role control), for the log.
  std::vector<std::string> TakeLeaseEvents();

  // The data path of roles other than control (null with role control).
  Server* data_path() { return config_.role == ServeRole::kControl ? nullptr : server_.get(); }
  // Whether this instance leads (always true without a lease: one instance per state dir).
  bool leading() const { return lease_ == nullptr || lease_->held(); }
  // The lease (role control), null otherwise.
  LeaderLease* lease() { return lease_.get(); }
  // Of whichever server runs the control loop now (none on a follower).
  std::vector<Transition> TakeTransitions();
  std::vector<Server::ReconcileDone> TakeReconcileDone();
  std::optional<ControlLoopMetrics> control_metrics();
  ApiServer* api() { return api_.get(); }  // null when the API is off
  // The config's webhooks (null when it names none); /metrics reports their deliveries.
  WebhookNotifier* webhooks() { return webhooks_.get(); }
  // The first error of any part (the others keep running).
  absl::Status error();
  absl::Status Stop();

 private:
  ControlService(const ServeConfig& config, const base::Clock& clock)
      : config_(config), clock_(clock) {}
  void RunExecutor();
  // Role control: the lease thread only polls the lease, so renewals never wait on the
  // leader's parts starting (a slow Kafka must not cost the lease); the leadership thread
  // starts the leader's parts on taking it and stops them on losing it.
  void RunLease();
  void RunLeadership();
  absl::Status StartLeading();
  void StopLeading();
  void Note(std::string event);

  const ServeConfig config_;
  const base::Clock& clock_;
  std::unique_ptr<Server> server_;  // role control: set while leading, guarded by mu_
  std::unique_ptr<LeaderLease> lease_;
  std::thread lease_thread_;
  std::thread leadership_thread_;
  std::atomic<bool> executor_stop_{false};
  std::unique_ptr<WebhookNotifier> webhooks_;  // before api_: the API reads it until it stops
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<ExecutorLock> executor_lock_;
  std::thread executor_;
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  std::mutex mu_;
  absl::Status executor_error_;                // guarded by mu_
  std::vector<migrations::TickEvent> events_;  // guarded by mu_
  std::vector<std::string> lease_events_;      // guarded by mu_
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_CONTROL_SERVICE_H_
