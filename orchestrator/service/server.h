// The data path of `cmo serve`: the outbox relay and one applier per region, each on its own
// thread, over the primary and replica stores, against the embedded Kafka (librdkafka's mock
// cluster) or a real cluster; with role all also the control loop and the reconciliation
// scheduler. Started by the ControlService (orchestrator/control_service.h), which adds the plan
// executor and the API.
#ifndef CMO_ORCHESTRATOR_SERVICE_SERVER_H_
#define CMO_ORCHESTRATOR_SERVICE_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/kafka.h"
#include "orchestrator/service/control_loop.h"
#include "orchestrator/service/serve_config.h"
#include "shadow/applier.h"
#include "shadow/cdc_relay.h"
#include "shadow/converged.h"
#include "shadow/outbox_relay.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::orchestrator {

// Owns the data-path threads. Start() then Stop() from one thread; status() from any.
class Server {
 public:
  struct RegionStatus {
    std::string region;
    int64_t watermark = 0;
    shadow::ApplierMetrics applier;  // refreshed by the applier thread every ~200 ms
  };

  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServeConfig& config,
                                                       const base::Clock& clock);
  ~Server();

  // Stops the threads, flushes the producer, closes the stores; returns the first error any
  // thread hit (OK on a clean run).
  absl::Status Stop();
  // The first error of a thread, if any (the server keeps running the other threads).
  absl::Status error();
  const std::string& bootstrap_servers() const { return bootstrap_; }
  shadow::RelayMetrics relay_metrics();
  // Change data capture (config `cdc`): nullopt when this process does not run its relay.
  std::optional<shadow::CdcMetrics> cdc_metrics();
  std::vector<RegionStatus> regions();
  // Budgets and breakers (role all); nullopt when this process does not run them.
  std::optional<ControlLoopMetrics> control_metrics();
  // Breaker transitions since the last call, for the log.
  std::vector<Transition> TakeTransitions();
  // Scheduled reconciliation passes completed.
  int64_t reconcile_passes();
  // What each scheduled reconciliation job of a region and domain ended with, since the last
  // call (notifications).
  struct ReconcileDone {
    std::string region;
    std::string domain;
    int64_t rows_scanned = 0;
    int64_t found = 0;
    int64_t healed = 0;
    std::string error;  // "" when the job finished
  };
  std::vector<ReconcileDone> TakeReconcileDone();

 private:
  struct Region;
  Server(const ServeConfig& config, const base::Clock& clock);
  void Fail(absl::Status s);
  absl::Status StartKafka(std::function<absl::StatusOr<int>(const std::string&)>& ensure_topic);
  void RunRelay();
  void RunCdcRelay();
  void RunApplier(Region& region);
  void RunTopicCreator();
  // Relay roles: publishes the LSN applied in every region on cmo.converged (shadow/converged.h)
  // whenever it moves, and once a second while it does not.
  void RunConvergedPublisher(std::shared_ptr<const base::KeyRing> keys);
  // That LSN now, with the regions' watermarks it is the minimum of; nullopt before known.
  std::optional<shadow::ConvergedMark> Converged();
  // Role all: reconciles every domain against every local replica as often as the applied
  // plans' `reconciliation.every` says (the shortest wins).
  void RunReconciler();
  absl::StatusOr<int64_t> MinApplied(const std::map<std::string, int>& partitions);
  // After a store answered kUnavailable: drops `out`, then remakes it with backoff until the
  // store answers (OK), another error comes (returned), or the server stops (OK, `out` null).
  template <typename T>
  absl::Status Rebuild(std::string_view what, const absl::Status& why,
                       const std::function<absl::StatusOr<std::unique_ptr<T>>()>& make,
                       std::unique_ptr<T>& out);

  ServeConfig config_;
  const base::Clock& clock_;
  std::unique_ptr<base::KafkaMockCluster> embedded_;
  std::string bootstrap_;
  std::unique_ptr<store::PrimaryStore> primary_;
  std::unique_ptr<shadow::OutboxRelay> relay_;
  std::unique_ptr<ControlLoop> control_;
  std::vector<std::unique_ptr<Region>> regions_;
  // Role relay: the replicas of appliers running in other processes, read for watermarks.
  std::map<std::string, std::unique_ptr<store::ReplicaStore>> remote_replicas_;
  std::map<std::string, int64_t> remote_watermarks_;  // the last each remote replica answered
  std::unique_ptr<base::KafkaProducer> converged_out_;
  // Role relay: the last MinApplied the relay computed (-1: none yet), and its regions'.
  std::atomic<int64_t> relay_min_applied_{-1};
  std::map<std::string, int64_t> relay_regions_;  // guarded by mu_
  // Per rebuilt component: the last failure logged and when (guarded by mu_).
  std::map<std::string, std::pair<std::string, absl::Time>> rebuild_log_;
  std::function<absl::StatusOr<std::unique_ptr<shadow::OutboxRelay>>()> make_relay_;
  std::unique_ptr<shadow::CdcRelay> cdc_relay_;
  std::function<absl::StatusOr<std::unique_ptr<shadow::CdcRelay>>()> make_cdc_relay_;
  std::optional<shadow::CdcMetrics> cdc_metrics_;  // guarded by mu_
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};

  std::mutex mu_;  // guards first_error_ and relay_metrics_
  absl::Status first_error_;
  shadow::RelayMetrics relay_metrics_;
  std::vector<Transition> transitions_;        // guarded by mu_
  int64_t reconcile_passes_ = 0;               // guarded by mu_
  std::vector<ReconcileDone> reconcile_done_;  // guarded by mu_
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_SERVER_H_
