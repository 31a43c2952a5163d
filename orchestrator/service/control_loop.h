// The control service's loop inside `cmo serve`: reads every client's telemetry from Kafka
// `cmo.telemetry`, evaluates budgets and steps breakers (BudgetController) every
// `evaluate_every`, and publishes the flag snapshot on Kafka `cmo.flags` whenever the revision
// moves (and every `republish_every`, so a client that joins late or lost its connection
// learns the state, and silence means the control plane is gone).
#ifndef CMO_ORCHESTRATOR_SERVICE_CONTROL_LOOP_H_
#define CMO_ORCHESTRATOR_SERVICE_CONTROL_LOOP_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "base/kafka.h"
#include "base/message_auth.h"
#include "orchestrator/budget/budget_controller.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/heavy_writers.h"
#include "reconcile/divergence_log.h"
#include "shadow/telemetry.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::orchestrator {

struct ControlLoopOptions {
  BudgetControllerOptions budget;
  absl::Duration evaluate_every = absl::Milliseconds(100);
  absl::Duration republish_every = absl::Seconds(1);
  // The key ring that signs snapshots and verifies telemetry; empty: STATE_DIR/message-key,
  // created if missing.
  std::string message_key_file;
};

struct ControlLoopMetrics {
  int64_t telemetry_windows = 0;
  int64_t mismatches_logged = 0;  // shadow mismatches written to the divergence log
  int64_t targeted_repairs = 0;   // keys healed at once after a shadow divergence
  int64_t undecodable = 0;
  int64_t telemetry_refused = 0;  // unsigned or wrongly signed windows, dropped
  int64_t evaluations = 0;
  int64_t transitions = 0;
  int64_t snapshots_published = 0;
  int64_t snapshot_revision = 0;
  int64_t heavy_writer_updates = 0;  // top_k tiers whose members changed
  int64_t heavy_writer_errors = 0;   // refreshes that failed (retried at the next)
};

// Not thread-safe: Run() on one thread; Stop() and metrics() from any.
class ControlLoop {
 public:
  using OnTransition = std::function<void(const Transition&)>;
  // The worst replication lag p99 across regions, if this process measures it.
  using LagSource = std::function<std::optional<absl::Duration>()>;

  static absl::StatusOr<std::unique_ptr<ControlLoop>> Create(
      const std::string& state_dir, const base::KafkaConfig& kafka, const base::Clock& clock,
      ControlLoopOptions options, OnTransition on_transition = nullptr, LagSource lag = nullptr);
  ~ControlLoop();

  // Runs until Stop(); returns the first error.
  absl::Status Run();
  void Stop() { stop_.store(true); }
  ControlLoopMetrics metrics();

 private:
  ControlLoop(const base::Clock& clock, ControlLoopOptions options, OnTransition on_transition,
              LagSource lag);
  absl::Status AssignTelemetry();
  // Logs the window's mismatches and repairs the diverged keys at once (closing the loop from
  // detection to healing without waiting for a digest pass).
  absl::Status HandleMismatches(const shadow::TelemetryWindow& w);
  absl::StatusOr<store::ReplicaStore*> Replica(const std::string& region);
  absl::Status Publish(absl::Time now);

  const base::Clock& clock_;
  const ControlLoopOptions options_;
  OnTransition on_transition_;
  LagSource lag_;
  std::string state_dir_;
  std::unique_ptr<ControlState> state_;
  std::unique_ptr<reconcile::DivergenceLog> divergences_;
  std::unique_ptr<store::PrimaryStore> primary_;
  std::map<std::string, std::unique_ptr<store::ReplicaStore>> replicas_;
  std::unique_ptr<BudgetController> controller_;
  std::unique_ptr<HeavyWriters> heavy_writers_;
  std::unique_ptr<base::KafkaConsumer> telemetry_;
  std::unique_ptr<base::KafkaProducer> flags_out_;
  std::shared_ptr<const base::KeyRing> keys_;
  bool telemetry_assigned_ = false;
  int64_t published_revision_ = -1;
  absl::Time published_at_ = absl::InfinitePast();
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  ControlLoopMetrics metrics_;  // guarded by mu_ (copied out by metrics())
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_CONTROL_LOOP_H_
