#include "orchestrator/service/control_loop.h"

#include "base/status_macros.h"
#include "base/strings.h"
#include "flags/flag_json.h"
#include "reconcile/reconciler.h"
#include "shadow/change_event.h"
#include "shadow/deployment_stores.h"
#include "shadow/flag_source.h"
#include "shadow/state_layout.h"
#include "shadow/telemetry.h"

namespace cmo::orchestrator {

ControlLoop::ControlLoop(const base::Clock& clock, ControlLoopOptions options,
                         OnTransition on_transition, LagSource lag)
    : clock_(clock),
      options_(options),
      on_transition_(std::move(on_transition)),
      lag_(std::move(lag)) {}

ControlLoop::~ControlLoop() = default;

absl::StatusOr<std::unique_ptr<ControlLoop>> ControlLoop::Create(
    const std::string& state_dir, const base::KafkaConfig& kafka, const base::Clock& clock,
    ControlLoopOptions options, OnTransition on_transition, LagSource lag) {
  std::unique_ptr<ControlLoop> loop(
      new ControlLoop(clock, options, std::move(on_transition), std::move(lag)));
  loop->state_dir_ = state_dir;
  CMO_ASSIGN_OR_RETURN(loop->state_, OpenControlState(state_dir, /*create=*/false, clock));
  CMO_ASSIGN_OR_RETURN(
      loop->keys_,
      base::KeyRing::LoadOrCreate(options.message_key_file.empty() ? base::MessageKeyPath(state_dir)
                                                                   : options.message_key_file));
  CMO_ASSIGN_OR_RETURN(loop->divergences_,
                       reconcile::DivergenceLog::Open(loop->state_->flags->db()));
  ControlLoop* self = loop.get();
  CMO_ASSIGN_OR_RETURN(loop->controller_,
                       BudgetController::Create(
                           *loop->state_->flags, *loop->state_->plans, clock, options.budget,
                           [self](const std::string& op, const std::string& reason) {
                             // A frozen op's plan waits for an operator where it is.
                             absl::Status s =
                                 self->state_->executor
                                     ->SetPaused(op, true, {"breaker", reason, "freeze", false})
                                     .status();
                             // An op no plan drives has no plan to pause.
                             return absl::IsNotFound(s) ? absl::OkStatus() : s;
                           },
                           [self](const std::string& op) {
                             // Back one step (or wait for an operator), as the phase says.
                             return self->state_->executor->AfterBreakerRecovery(op).status();
                           }));
  loop->heavy_writers_ = std::make_unique<HeavyWriters>(*loop->state_->flags, clock);
  base::KafkaConfig consumer = kafka;
  consumer.emplace("fetch.wait.max.ms", "10");
  consumer.emplace("reconnect.backoff.max.ms", "1000");
  CMO_ASSIGN_OR_RETURN(loop->telemetry_, base::KafkaConsumer::Create(consumer));
  base::KafkaConfig producer = kafka;
  producer.emplace("linger.ms", "0");  // a trip must leave at once
  producer.emplace("reconnect.backoff.max.ms", "1000");
  CMO_ASSIGN_OR_RETURN(loop->flags_out_,
                       base::KafkaProducer::Create(producer, [](const base::DeliveryReport&) {}));
  return loop;
}

absl::Status ControlLoop::AssignTelemetry() {
  const std::string topic(shadow::kTelemetryTopic);
  CMO_ASSIGN_OR_RETURN(int partitions, telemetry_->PartitionCount(topic, 2000));
  std::vector<base::TopicPartitionOffset> assignment;
  for (int32_t p = 0; p < partitions; ++p) {
    // Old windows are no use to a budget measured over the recent past: start at the end.
    CMO_ASSIGN_OR_RETURN(auto marks, telemetry_->Watermarks(topic, p, 2000));
    assignment.push_back({topic, p, marks.second});
  }
  CMO_RETURN_IF_ERROR(telemetry_->Assign(assignment));
  telemetry_assigned_ = true;
  return absl::OkStatus();
}

absl::Status ControlLoop::Publish(absl::Time now) {
  // One cheap revision read per evaluation; the whole snapshot only when it is to be sent.
  CMO_ASSIGN_OR_RETURN(int64_t revision, state_->flags->Revision());
  if (revision == published_revision_ && now - published_at_ < options_.republish_every) {
    return absl::OkStatus();
  }
  CMO_ASSIGN_OR_RETURN(std::shared_ptr<const flags::Snapshot> snap, state_->flags->LoadSnapshot());
  CMO_RETURN_IF_ERROR(flags_out_->Produce(std::string(shadow::kFlagsTopic), 0, "snapshot",
                                          keys_->Sign(flags::EncodeSnapshot(*snap, now)), 0));
  flags_out_->Poll(0);
  published_revision_ = snap->revision();
  published_at_ = now;
  std::lock_guard<std::mutex> lock(mu_);
  ++metrics_.snapshots_published;
  metrics_.snapshot_revision = published_revision_;
  return absl::OkStatus();
}

absl::Status ControlLoop::Run() {
  absl::Time next_eval = clock_.Now();
  while (!stop_.load()) {
    if (!telemetry_assigned_) {
      // The topic may not exist yet on a real cluster: retry, keep publishing flags meanwhile.
      if (!AssignTelemetry().ok()) clock_.SleepFor(absl::Milliseconds(100));
    }
    if (telemetry_assigned_) {
      CMO_ASSIGN_OR_RETURN(std::vector<base::KafkaMessage> messages, telemetry_->Poll(1000, 10));
      int64_t windows = 0, bad = 0, refused = 0;
      for (const base::KafkaMessage& m : messages) {
        // Anyone who can produce to the cluster can write here; only key holders can sign.
        // A forged window must not open a breaker or enter the divergence log.
        absl::StatusOr<std::string> text = keys_->Verify(m.value);
        if (!text.ok()) {
          ++refused;
          continue;
        }
        absl::StatusOr<shadow::TelemetryWindow> w = shadow::DecodeTelemetry(*text);
        if (!w.ok()) {
          ++bad;
          continue;
        }
        controller_->Ingest(*w);
        heavy_writers_->Ingest(*w);
        CMO_RETURN_IF_ERROR(HandleMismatches(*w));
        ++windows;
      }
      std::lock_guard<std::mutex> lock(mu_);
      metrics_.telemetry_windows += windows;
      metrics_.undecodable += bad;
      metrics_.telemetry_refused += refused;
    }
    const absl::Time now = clock_.Now();
    if (now >= next_eval) {
      next_eval = now + options_.evaluate_every;
      controller_->SetReplicationLagP99(lag_ ? lag_() : std::nullopt);
      CMO_ASSIGN_OR_RETURN(std::vector<Transition> transitions, controller_->Evaluate());
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++metrics_.evaluations;
        metrics_.transitions += static_cast<int64_t>(transitions.size());
      }
      if (on_transition_) {
        for (const Transition& t : transitions) on_transition_(t);
      }
      // A failed refresh (the control database busy, say) is retried at the next; the tiers
      // keep the members published last meanwhile.
      absl::StatusOr<int> moved = heavy_writers_->Refresh();
      {
        std::lock_guard<std::mutex> lock(mu_);
        metrics_.heavy_writer_updates += moved.ok() ? *moved : 0;
        metrics_.heavy_writer_errors += moved.ok() ? 0 : 1;
      }
      CMO_RETURN_IF_ERROR(Publish(now));
    }
  }
  return flags_out_->Flush(2000);
}

absl::StatusOr<store::ReplicaStore*> ControlLoop::Replica(const std::string& region) {
  auto it = replicas_.find(region);
  if (it != replicas_.end()) return it->second.get();
  CMO_ASSIGN_OR_RETURN(auto replica, shadow::OpenReplica(state_dir_, region));
  return replicas_.emplace(region, std::move(replica)).first->second.get();
}

absl::Status ControlLoop::HandleMismatches(const shadow::TelemetryWindow& w) {
  std::vector<reconcile::DivergenceRecord> records;
  // (domain, region) -> keys to repair now
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> repair;
  for (const shadow::OpWindow& o : w.ops) {
    for (const shadow::Mismatch& m : o.mismatches) {
      reconcile::DivergenceRecord r;
      r.domain = m.domain;
      r.key = m.key;
      r.subject = m.subject;
      r.op = m.op;
      r.diff_class = std::string(shadow::MismatchClassName(m.mismatch_class));
      r.region = m.region;
      r.primary_lsn = m.primary_lsn;
      r.replica_lsn = m.replica_lsn;
      r.detected_by = "shadow";
      r.detected_at = m.detected_at;
      // Trace it to the Kafka record that last wrote the replica's row, where we can see it.
      if (absl::StatusOr<store::ReplicaStore*> rep = Replica(m.region); rep.ok()) {
        absl::StatusOr<int> n = (*rep)->TopicPartitions(shadow::ChangeTopic(m.domain));
        if (n.ok() && *n > 0) r.partition = shadow::PartitionOf(m.key, *n);
        absl::StatusOr<std::optional<store::Row>> row = (*rep)->Get(m.domain, m.key);
        if (row.ok() && row->has_value()) r.offset = (*row)->kafka_offset;
      }
      if (m.mismatch_class == shadow::MismatchClass::kLag) {
        r.healed_at = m.detected_at;  // it had converged when the re-check looked
        r.heal_action = "converged (replication lag)";
      } else {
        repair[{m.domain, m.region}].push_back(m.key);
      }
      records.push_back(std::move(r));
    }
  }
  CMO_RETURN_IF_ERROR(divergences_->Append(records));
  int64_t repaired = 0;
  for (auto& [where, keys] : repair) {
    const auto& [domain, region] = where;
    absl::StatusOr<store::ReplicaStore*> replica = Replica(region);
    if (!replica.ok()) continue;  // that region's replica lives in another process
    if (primary_ == nullptr) {
      CMO_ASSIGN_OR_RETURN(primary_, shadow::OpenPrimary(state_dir_, clock_));
    }
    CMO_ASSIGN_OR_RETURN(int64_t watermark, shadow::DomainWatermark(**replica, domain));
    reconcile::ReconcileOptions ro;
    ro.domain = domain;
    ro.replica_watermark = watermark;
    ro.staleness_window = absl::ZeroDuration();  // the shadow re-check already waited it out
    CMO_ASSIGN_OR_RETURN(reconcile::ReconcileReport report,
                         reconcile::ReconcileKeys(*primary_, **replica, keys, ro, clock_));
    for (const reconcile::KeyDiff& d : report.diffs) {
      if (d.heal.empty()) continue;
      CMO_RETURN_IF_ERROR(divergences_->MarkHealed(domain, d.key, region, clock_.Now(), d.heal));
      ++repaired;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  metrics_.mismatches_logged += static_cast<int64_t>(records.size());
  metrics_.targeted_repairs += repaired;
  return absl::OkStatus();
}

ControlLoopMetrics ControlLoop::metrics() {
  std::lock_guard<std::mutex> lock(mu_);
  return metrics_;
}

}  // namespace cmo::orchestrator
