#include "orchestrator/service/server.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "base/status_macros.h"
#include "base/strings.h"
#include "migrations/plan_parser.h"
#include "orchestrator/budget/replication_lag.h"
#include "orchestrator/service/kafka_topics.h"
#include "reconcile/divergence_log.h"
#include "reconcile/reconcile_job.h"
#include "shadow/change_event.h"
#include "shadow/deployment_stores.h"
#include "shadow/flag_source.h"
#include "shadow/hot_items.h"
#include "shadow/telemetry.h"
#include "store/store_url.h"

namespace cmo::orchestrator {

using shadow::BootstrapPath;

struct Server::Region {
  std::string name;
  std::unique_ptr<store::ReplicaStore> replica;
  std::unique_ptr<shadow::Applier> applier;
  std::function<absl::StatusOr<std::unique_ptr<shadow::Applier>>()> make_applier;
  std::atomic<int64_t> watermark{0};
  std::mutex mu;
  shadow::ApplierMetrics metrics;  // guarded by mu
};

Server::Server(const ServeConfig& config, const base::Clock& clock)
    : config_(config), clock_(clock) {}

Server::~Server() { Stop().IgnoreError(); }

void Server::Fail(absl::Status s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (first_error_.ok()) first_error_ = std::move(s);
}

absl::Status Server::error() {
  std::lock_guard<std::mutex> lock(mu_);
  return first_error_;
}

absl::StatusOr<int64_t> Server::MinApplied(const std::map<std::string, int>& partitions) {
  if (config_.role == ServeRole::kAll) {
    int64_t min = INT64_MAX;
    for (const auto& r : regions_) min = std::min(min, r->watermark.load());
    return regions_.empty() ? 0 : min;
  }
  // Appliers run elsewhere: read their replicas' positions (0 for a region never started).
  std::vector<std::pair<std::string, int32_t>> parts;
  for (const auto& [topic, n] : partitions) {
    for (int32_t p = 0; p < n; ++p) parts.emplace_back(topic, p);
  }
  int64_t min = INT64_MAX;
  for (const std::string& region : config_.regions) {
    const std::string path = ReplicaUrl(config_, region);
    auto& replica = remote_replicas_[region];
    if (replica == nullptr) {
      if (store::IsMissingSqliteFile(path)) return 0;
      CMO_ASSIGN_OR_RETURN(replica, store::ReplicaStore::Open(path));
    }
    // A replica server that is down keeps its last known watermark (watermarks only grow, so
    // it is a safe under-estimate): the relay goes on publishing, and trims less meanwhile.
    absl::StatusOr<int64_t> w = replica->Watermark(parts);
    if (w.ok()) remote_watermarks_[region] = *w;
    min = std::min(min, remote_watermarks_[region]);
  }
  if (config_.regions.empty()) return 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    relay_regions_ = remote_watermarks_;
  }
  relay_min_applied_.store(min);
  return min;
}

std::optional<shadow::ConvergedMark> Server::Converged() {
  shadow::ConvergedMark m;
  m.at = clock_.Now();
  if (config_.role == ServeRole::kAll) {
    if (regions_.empty()) return std::nullopt;
    m.lsn = INT64_MAX;
    for (const auto& r : regions_) {
      m.regions[r->name] = r->watermark.load();
      m.lsn = std::min(m.lsn, m.regions[r->name]);
    }
    return m;
  }
  m.lsn = relay_min_applied_.load();
  if (m.lsn < 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  m.regions = relay_regions_;
  return m;
}

void Server::RunConvergedPublisher(std::shared_ptr<const base::KeyRing> keys) {
  const std::string topic(shadow::kConvergedTopic);
  int64_t published = -1;
  absl::Time published_at = absl::InfinitePast();
  while (!stop_.load()) {
    std::optional<shadow::ConvergedMark> m = Converged();
    if (m.has_value() && (m->lsn != published || m->at - published_at >= absl::Seconds(1))) {
      // A failed produce (queue full, cluster away) is tried again at the next round.
      if (converged_out_->Produce(topic, 0, "converged", keys->Sign(shadow::EncodeConverged(*m)), 0)
              .ok()) {
        published = m->lsn;
        published_at = m->at;
      }
    }
    converged_out_->Poll(0);
    clock_.SleepFor(absl::Milliseconds(5));
  }
  converged_out_->Flush(2000).IgnoreError();
}

namespace {

// Other local processes (kcat, clients and tools given only the state dir, appliers and a
// relay of the embedded cluster) find the deployment's Kafka here; written once its topics
// exist, atomically, since its appearance is what they wait for.
absl::Status WriteBootstrapFile(const std::string& dir, const std::string& bootstrap) {
  const std::string tmp = BootstrapPath(dir) + ".tmp";
  std::ofstream(tmp) << bootstrap << "\n";
  if (::rename(tmp.c_str(), BootstrapPath(dir).c_str()) != 0) {
    return absl::FailedPreconditionError(
        base::StrCat("cannot write ", BootstrapPath(dir), "; check the state dir"));
  }
  return absl::OkStatus();
}

}  // namespace

// Starts or finds Kafka; sets how the relay gets a change topic's partition count.
absl::Status Server::StartKafka(
    std::function<absl::StatusOr<int>(const std::string&)>& ensure_topic) {
  const std::string& dir = config_.state_dir;
  const bool host_embedded = config_.kafka_brokers == "embedded" &&
                             (config_.role == ServeRole::kAll || config_.role == ServeRole::kKafka);
  if (host_embedded) {
    CMO_ASSIGN_OR_RETURN(embedded_, base::KafkaMockCluster::Start(3));
    bootstrap_ = embedded_->bootstrap_servers();
    // Clients publish their telemetry windows here (shadow/telemetry.h); the mock cluster
    // cannot create topics through the admin API, so it exists from the start.
    CMO_RETURN_IF_ERROR(
        embedded_->CreateTopic(std::string(shadow::kTelemetryTopic), config_.kafka_partitions, 3));
    // One partition: a snapshot is the whole state, and clients read only the newest.
    CMO_RETURN_IF_ERROR(embedded_->CreateTopic(std::string(shadow::kFlagsTopic), 1, 3));
    CMO_RETURN_IF_ERROR(embedded_->CreateTopic(std::string(shadow::kConvergedTopic), 1, 3));
    CMO_RETURN_IF_ERROR(embedded_->CreateTopic(std::string(shadow::kAmplifiedTopic), 1, 3));
    CMO_RETURN_IF_ERROR(WriteBootstrapFile(dir, bootstrap_));
    base::KafkaMockCluster* cluster = embedded_.get();
    const int partitions = config_.kafka_partitions;
    ensure_topic = [cluster, partitions](const std::string& topic) -> absl::StatusOr<int> {
      // Already there when a relay is rebuilt after its store came back: same partitions.
      const absl::Status created = cluster->CreateTopic(topic, partitions, 3);
      if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
      return partitions;
    };
    return absl::OkStatus();
  }
  if (config_.kafka_brokers != "embedded") {
    // A real cluster: cmo creates and checks its own topics (orchestrator/service/kafka_topics.h).
    bootstrap_ = config_.kafka_brokers;
    const TopicPolicy policy = {.partitions = config_.kafka_partitions,
                                .replication_factor = config_.kafka_replication_factor,
                                .telemetry_retention = config_.telemetry_retention};
    CMO_ASSIGN_OR_RETURN(std::shared_ptr<KafkaTopics> topics,
                         KafkaTopics::Connect(KafkaClientConfig(config_, bootstrap_), policy,
                                              [](const std::string& warning) {
                                                std::fprintf(stderr, "cmo serve: warning: %s\n",
                                                             warning.c_str());
                                              }));
    if (config_.role == ServeRole::kAll || config_.role == ServeRole::kControl) {
      // Clients publish telemetry and read flags from the start.
      for (std::string_view t :
           {shadow::kFlagsTopic, shadow::kTelemetryTopic, shadow::kAmplifiedTopic}) {
        CMO_RETURN_IF_ERROR(topics->Ensure(std::string(t)).status());
      }
      CMO_RETURN_IF_ERROR(WriteBootstrapFile(dir, bootstrap_));
    }
    ensure_topic = [topics](const std::string& topic) { return topics->Ensure(topic); };
    return absl::OkStatus();
  }
  std::ifstream in(BootstrapPath(dir));
  if (!(in >> bootstrap_)) {
    return absl::FailedPreconditionError(base::StrCat(
        "no embedded Kafka for ", dir, " (", BootstrapPath(dir),
        " is missing); start `cmo serve --role kafka` (or --role all) on this state dir first"));
  }
  const base::KafkaConfig probe = {{"bootstrap.servers", bootstrap_}, {"log_level", "3"}};
  CMO_ASSIGN_OR_RETURN(std::shared_ptr<base::KafkaConsumer> meta,
                       base::KafkaConsumer::Create(probe));
  // The mock cluster has no admin API: the process hosting it (role kafka or all) creates one
  // change topic per domain of the primary; wait a little for it to appear.
  ensure_topic = [meta, dir, clock = &clock_](const std::string& topic) -> absl::StatusOr<int> {
    const absl::Time deadline = clock->Now() + absl::Seconds(10);
    absl::StatusOr<int> n = meta->PartitionCount(topic, 2000);
    while ((!n.ok() || *n <= 0) && clock->Now() < deadline) {
      ::usleep(100'000);  // metadata refresh pacing; this runs only when a new domain appears
      n = meta->PartitionCount(topic, 2000);
    }
    if (!n.ok() || *n <= 0) {
      return absl::FailedPreconditionError(
          base::StrCat("change topic ", topic, " does not exist on the embedded Kafka of ", dir,
                       "; is `cmo serve --role kafka` running on that state dir?"));
    }
    return n;
  };
  return absl::OkStatus();
}

namespace {

// The primary as one thread sees it: opened on first use, reopened after any failure (a
// server that went away). Not thread-safe.
class LazyPrimary {
 public:
  LazyPrimary(std::string url, const base::Clock& clock) : url_(std::move(url)), clock_(clock) {}

  template <typename T>
  absl::StatusOr<T> Call(const std::function<absl::StatusOr<T>(store::PrimaryStore&)>& fn) {
    if (primary_ == nullptr) {
      CMO_ASSIGN_OR_RETURN(primary_, store::PrimaryStore::Open(url_, clock_));
    }
    absl::StatusOr<T> r = fn(*primary_);
    if (!r.ok()) primary_.reset();
    return r;
  }

 private:
  const std::string url_;
  const base::Clock& clock_;
  std::unique_ptr<store::PrimaryStore> primary_;
};

shadow::ApplierOptions ApplierOptionsFor(const ServeConfig& config, const std::string& region,
                                         std::shared_ptr<const base::KeyRing> keys,
                                         const base::Clock& clock) {
  shadow::ApplierOptions o = config.applier;
  o.region = region;
  o.keys = std::move(keys);
  auto lag = config.simulated_lag.find(region);
  o.simulated_delay = lag == config.simulated_lag.end() ? absl::ZeroDuration() : lag->second;
  // On a real cluster several appliers of a region share its partitions (and take over from
  // each other); the embedded cluster is one process's, with one applier per region.
  o.consumer_group = config.kafka_brokers != "embedded";
  if (!config.cdc.source.empty()) {
    // The changes come from the app's tables: the plan names the domains, and versions are the
    // source's WAL positions, which cmo's primary knows nothing of: the source bounds them.
    o.domains = [domains = config.cdc.domains]() -> absl::StatusOr<std::vector<std::string>> {
      return domains;
    };
    o.lsn_ceiling = shadow::CdcRelay::LsnCeiling(config.cdc.source);
    return o;
  }
  // The primary's last LSN bounds what an applier accepts, and its domains say which change
  // topics are this deployment's; its own connection, opened on first use, on the applier's
  // thread.
  auto primary = std::make_shared<LazyPrimary>(PrimaryUrl(config), clock);
  o.lsn_ceiling = [primary] {
    return primary->Call<int64_t>([](store::PrimaryStore& p) { return p.LastLsn(); });
  };
  o.domains = [primary] {
    return primary->Call<std::vector<std::string>>(
        [](store::PrimaryStore& p) { return p.Domains(); });
  };
  return o;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServeConfig& config,
                                                      const base::Clock& clock) {
  std::unique_ptr<Server> s(new Server(config, clock));
  Server* self = s.get();
  const std::string& dir = config.state_dir;
  // The key ring first: it must exist before kafka.bootstrap does, since clients that find the
  // bootstrap file open right away and sign their telemetry with it (an unsigned window would
  // be dropped). The relay signs heartbeats with it and the appliers verify them.
  CMO_ASSIGN_OR_RETURN(
      std::shared_ptr<const base::KeyRing> keys,
      base::KeyRing::LoadOrCreate(config.message_key_file.empty() ? base::MessageKeyPath(dir)
                                                                  : config.message_key_file));
  if (config.role == ServeRole::kAll) {
    // So that the control loop, the API, the CLI and clients given only this state dir open
    // the stores this config names. Before kafka.bootstrap exists, for the reason above:
    // clients open as soon as they see it.
    CMO_RETURN_IF_ERROR(shadow::RecordStoreLocations(dir, {config.primary, config.replicas, ""}));
  }
  if (config.role == ServeRole::kKafka && config.kafka_brokers != "embedded") {
    return absl::InvalidArgumentError(base::StrCat(
        "--role kafka hosts the embedded Kafka; with kafka.brokers = ", config.kafka_brokers,
        " there is nothing to host (cmo serve --role all or relay creates the topics there)"));
  }
  std::function<absl::StatusOr<int>(const std::string&)> ensure_topic;
  CMO_RETURN_IF_ERROR(s->StartKafka(ensure_topic));
  const base::KafkaConfig kafka = KafkaClientConfig(config, s->bootstrap_);
  const bool relay = config.role == ServeRole::kAll || config.role == ServeRole::kRelay;
  const bool appliers = config.role == ServeRole::kAll || config.role == ServeRole::kApplier;
  if (config.role == ServeRole::kKafka) {
    CMO_ASSIGN_OR_RETURN(s->primary_, store::PrimaryStore::Open(PrimaryUrl(config), clock));
    s->threads_.emplace_back([self] { self->RunTopicCreator(); });
    return s;
  }
  if (appliers && s->embedded_ != nullptr) {
    // The embedded cluster starts empty: the domains' topics exist before the appliers do, so
    // each applier checks its stored positions against the empty log (and finds them lost)
    // before the relay publishes. Created later, a new log already longer than a stored
    // position would pass for the old one, and the applier would skip its start.
    for (const std::string& d : config.cdc.domains) {
      CMO_RETURN_IF_ERROR(ensure_topic(shadow::ChangeTopic(d)).status());
    }
    if (relay && config.cdc.source.empty()) {
      // The same for the outbox's domains, each priority topic before its change topic, as the
      // relay makes them (shadow::DomainWatermark).
      CMO_ASSIGN_OR_RETURN(auto primary, store::PrimaryStore::Open(PrimaryUrl(config), clock));
      CMO_ASSIGN_OR_RETURN(std::vector<std::string> domains, primary->Domains());
      for (const std::string& d : domains) {
        CMO_RETURN_IF_ERROR(ensure_topic(shadow::PriorityTopic(d)).status());
        CMO_RETURN_IF_ERROR(ensure_topic(shadow::ChangeTopic(d)).status());
      }
    }
  }
  if (appliers) {
    for (const std::string& name : config.regions) {
      auto region = std::make_unique<Region>();
      region->name = name;
      CMO_ASSIGN_OR_RETURN(region->replica, store::ReplicaStore::Open(ReplicaUrl(config, name)));
      Region* r = region.get();
      region->make_applier = [self, r, kafka, keys, &clock] {
        if (!self->config_.cdc.source.empty()) {
          // A lost change log is streamed again from the slot: the request is filed on the
          // source, where the CDC relay reads it.
          return shadow::Applier::Create(*r->replica, kafka, clock,
                                         ApplierOptionsFor(self->config_, r->name, keys, clock),
                                         [self] {
                                           return shadow::CdcRelay::RequestRepublish(
                                               self->config_.cdc.source, self->config_.cdc.options);
                                         });
        }
        // Filed in the primary, which the relay reads wherever it runs.
        auto primary = std::make_shared<LazyPrimary>(PrimaryUrl(self->config_), clock);
        return shadow::Applier::Create(*r->replica, kafka, clock,
                                       ApplierOptionsFor(self->config_, r->name, keys, clock),
                                       [primary] {
                                         return primary->Call<int64_t>([](store::PrimaryStore& p) {
                                           return p.RequestRepublish();
                                         });
                                       });
      };
      CMO_ASSIGN_OR_RETURN(region->applier, region->make_applier());
      CMO_ASSIGN_OR_RETURN(int64_t w, region->applier->Watermark());
      region->watermark = w;
      s->regions_.push_back(std::move(region));
    }
  }
  if (relay && !config.cdc.source.empty()) {
    s->make_cdc_relay_ = [self, kafka, ensure_topic, keys, &clock] {
      shadow::CdcOptions o = self->config_.cdc.options;
      o.keys = keys;
      return shadow::CdcRelay::Create(
          self->config_.cdc.source, kafka, ensure_topic,
          [self](const std::map<std::string, int>& partitions) {
            return self->MinApplied(partitions);
          },
          clock, o);
    };
    absl::StatusOr<std::unique_ptr<shadow::CdcRelay>> made = s->make_cdc_relay_();
    // A source that is away now is waited for (the relay thread retries); anything else is a
    // configuration to fix, said now.
    if (!made.ok() && !absl::IsUnavailable(made.status())) return made.status();
    if (made.ok()) s->cdc_relay_ = *std::move(made);
    s->threads_.emplace_back([self] { self->RunCdcRelay(); });
  } else if (relay) {
    CMO_ASSIGN_OR_RETURN(s->primary_, store::PrimaryStore::Open(PrimaryUrl(config), clock));
    s->make_relay_ = [self, kafka, ensure_topic, keys, &clock] {
      return shadow::OutboxRelay::Create(*self->primary_, kafka, ensure_topic,
                                         [self](const std::map<std::string, int>& partitions) {
                                           return self->MinApplied(partitions);
                                         },
                                         clock,
                                         {.keys = keys,
                                          .transactional_id = self->config_.kafka_transactional_id,
                                          .priority_channel = true});
    };
    CMO_ASSIGN_OR_RETURN(s->relay_, s->make_relay_());
    s->threads_.emplace_back([self] { self->RunRelay(); });
  }
  if (relay) {
    CMO_RETURN_IF_ERROR(ensure_topic(std::string(shadow::kConvergedTopic)).status());
    base::KafkaConfig producer = kafka;
    producer.emplace("linger.ms", "0");
    CMO_ASSIGN_OR_RETURN(s->converged_out_,
                         base::KafkaProducer::Create(producer, [](const base::DeliveryReport&) {}));
    s->threads_.emplace_back([self, keys] { self->RunConvergedPublisher(keys); });
  }
  for (auto& r : s->regions_) {
    Region* region = r.get();
    s->threads_.emplace_back([self, region] { self->RunApplier(*region); });
  }
  if (config.role == ServeRole::kAll || config.role == ServeRole::kControl) {
    CMO_ASSIGN_OR_RETURN(s->control_, ControlLoop::Create(
                                          dir, kafka, clock, config.control,
                                          [self](const Transition& t) {
                                            std::lock_guard<std::mutex> lock(self->mu_);
                                            self->transitions_.push_back(t);
                                          },
                                          [self, started = clock.Now()] {
                                            std::vector<shadow::ApplierMetrics> m;
                                            for (const RegionStatus& r : self->regions()) {
                                              m.push_back(r.applier);
                                            }
                                            return ReplicationLagNow(
                                                m, self->clock_.Now(), started,
                                                shadow::RelayOptions().idle_heartbeat_interval);
                                          }));
    s->threads_.emplace_back([self] {
      if (absl::Status st = self->control_->Run(); !st.ok()) self->Fail(st);
    });
    s->threads_.emplace_back([self] { self->RunReconciler(); });
  }
  return s;
}

void Server::RunTopicCreator() {
  // Role kafka: one change topic per domain the primary has seen, as soon as it appears, and
  // its priority topic before it (shadow::DomainWatermark).
  while (!stop_.load()) {
    auto domains = primary_->Domains();
    if (!domains.ok()) {
      Fail(domains.status());
      return;
    }
    for (const std::string& d : *domains) {
      embedded_->CreateTopic(shadow::PriorityTopic(d), config_.kafka_partitions, 3).IgnoreError();
      embedded_->CreateTopic(shadow::ChangeTopic(d), config_.kafka_partitions, 3).IgnoreError();
    }
    // CDC-fed domains have no priority channel: a priority topic nobody heartbeats would hold
    // their watermark at 0 (shadow::DomainWatermark).
    for (const std::string& d : config_.cdc.domains) {
      embedded_->CreateTopic(shadow::ChangeTopic(d), config_.kafka_partitions, 3).IgnoreError();
    }
    ::usleep(200'000);
  }
}

template <typename T>
absl::Status Server::Rebuild(std::string_view what, const absl::Status& why,
                             const std::function<absl::StatusOr<std::unique_ptr<T>>()>& make,
                             std::unique_ptr<T>& out) {
  // One line per outage, not per retry: an applier whose primary is down (its LSN ceiling)
  // is rebuilt every few hundred ms until the primary is back.
  bool quiet = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& [message, at] = rebuild_log_[std::string(what)];
    quiet = message == why.message() && clock_.Now() - at < absl::Seconds(30);
    if (!quiet) {
      message = std::string(why.message());
      at = clock_.Now();
    }
  }
  if (!quiet) {
    std::fprintf(stderr, "cmo serve: %.*s: %s; retrying until its store answers\n",
                 static_cast<int>(what.size()), what.data(), std::string(why.message()).c_str());
  }
  out.reset();  // its Kafka consumer leaves the group before the new one joins
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop_.load()) {
    clock_.SleepFor(backoff);
    absl::StatusOr<std::unique_ptr<T>> made = make();
    if (made.ok()) {
      out = *std::move(made);
      if (!quiet) {
        std::fprintf(stderr, "cmo serve: %.*s: resumed\n", static_cast<int>(what.size()),
                     what.data());
      }
      return absl::OkStatus();
    }
    if (!absl::IsUnavailable(made.status())) return made.status();
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
  return absl::OkStatus();
}

void Server::RunRelay() {
  while (!stop_.load()) {
    absl::Status st = relay_->Step(10);
    if (!st.ok()) {
      // The relay restarts from what the primary recorded (published_through): a change sent
      // twice is harmless (appliers apply newer-only), a change never sent is impossible.
      const absl::Status rebuilt =
          absl::IsUnavailable(st) ? Rebuild("relay", st, make_relay_, relay_) : st;
      if (!rebuilt.ok()) {
        Fail(rebuilt);
        return;
      }
      if (relay_ == nullptr) return;  // stopped while the primary was away
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    relay_metrics_ = relay_->metrics();
  }
  if (absl::Status st = relay_->Flush(5000); !st.ok()) Fail(st);
}

void Server::RunCdcRelay() {
  while (!stop_.load()) {
    absl::Status st = cdc_relay_ == nullptr
                          ? absl::UnavailableError("the CDC source was away at start")
                          : cdc_relay_->Step(10);
    if (absl::IsUnavailable(st)) {
      // The source is away or the stream was cut: what was not acknowledged is streamed again
      // from the slot once it answers.
      st = Rebuild("cdc relay", st, make_cdc_relay_, cdc_relay_);
      if (st.ok() && cdc_relay_ == nullptr) return;  // stopped while the source was away
    }
    if (!st.ok()) {
      Fail(st);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    cdc_metrics_ = cdc_relay_->metrics();
  }
  if (cdc_relay_ != nullptr) {
    if (absl::Status st = cdc_relay_->Flush(5000); !st.ok()) Fail(st);
  }
}

std::optional<shadow::CdcMetrics> Server::cdc_metrics() {
  std::lock_guard<std::mutex> lock(mu_);
  return cdc_metrics_;
}

void Server::RunApplier(Region& region) {
  absl::Time published = absl::InfinitePast();
  // The watermark is read from the replica after a commit of ours, and at least every 100 ms
  // for appliers of other processes on the same replica (group mode): an idle step returns in
  // about a millisecond, and reading after each kept ~1,000 queries/s on the replica's server.
  int64_t read_after = -1;
  absl::Time read_at = absl::InfinitePast();
  while (!stop_.load()) {
    absl::Status st = region.applier->Step(50);
    if (!st.ok()) {
      // The batch was not committed; a new applier resumes from the positions the replica
      // committed with its rows, so the events are consumed again, not lost.
      const std::string what = base::StrCat("applier ", region.name);
      const absl::Status rebuilt =
          absl::IsUnavailable(st) ? Rebuild(what, st, region.make_applier, region.applier) : st;
      if (!rebuilt.ok()) {
        Fail(rebuilt);
        return;
      }
      if (region.applier == nullptr) return;
      continue;
    }
    if (region.applier->commits() != read_after ||
        clock_.Now() - read_at >= absl::Milliseconds(100)) {
      read_after = region.applier->commits();
      read_at = clock_.Now();
      auto w = region.applier->Watermark();
      if (w.ok()) region.watermark = *w;
    }
    if (clock_.Now() - published >= absl::Milliseconds(200)) {
      published = clock_.Now();
      shadow::ApplierMetrics m = region.applier->metrics();
      std::lock_guard<std::mutex> lock(region.mu);
      region.metrics = m;
    }
  }
}

shadow::RelayMetrics Server::relay_metrics() {
  std::lock_guard<std::mutex> lock(mu_);
  return relay_metrics_;
}

std::vector<Server::RegionStatus> Server::regions() {
  std::vector<RegionStatus> out;
  for (const auto& r : regions_) {
    std::lock_guard<std::mutex> lock(r->mu);
    out.push_back({r->name, r->watermark.load(), r->metrics});
  }
  return out;
}

void Server::RunReconciler() {
  const std::string& dir = config_.state_dir;
  absl::Status st = [&]() -> absl::Status {
    CMO_ASSIGN_OR_RETURN(auto state, OpenControlState(dir, /*create=*/false, clock_));
    CMO_ASSIGN_OR_RETURN(auto log, reconcile::DivergenceLog::Open(state->flags->db()));
    CMO_ASSIGN_OR_RETURN(auto jobs, reconcile::JobStore::Open(state->flags->db()));
    CMO_ASSIGN_OR_RETURN(auto primary, store::PrimaryStore::Open(PrimaryUrl(config_), clock_));
    absl::Time last_pass = clock_.Now();
    std::set<std::string> flagged;  // region/domain pairs already flagged for a full resync
    while (!stop_.load()) {
      clock_.SleepFor(absl::Milliseconds(200));
      CMO_ASSIGN_OR_RETURN(std::vector<migrations::StoredPlan> stored, state->plans->Plans());
      std::optional<migrations::Reconciliation> schedule;
      for (const migrations::StoredPlan& sp : stored) {
        migrations::ParseResult parsed = migrations::ParsePlan(sp.content);
        const migrations::Reconciliation& r = parsed.plan.reconciliation;
        if (!parsed.ok() || r.every <= absl::ZeroDuration()) continue;
        if (!schedule.has_value() || r.every < schedule->every) schedule = r;
      }
      if (!schedule.has_value() || clock_.Now() - last_pass < schedule->every) continue;
      last_pass = clock_.Now();
      CMO_ASSIGN_OR_RETURN(std::vector<std::string> domains, primary->Domains());
      for (const std::string& region : config_.regions) {
        const std::string path = ReplicaUrl(config_, region);
        if (store::IsMissingSqliteFile(path)) continue;
        CMO_ASSIGN_OR_RETURN(auto replica, store::ReplicaStore::Open(path));
        for (const std::string& domain : domains) {
          const std::string topic = shadow::ChangeTopic(domain);
          CMO_ASSIGN_OR_RETURN(int64_t watermark, shadow::DomainWatermark(*replica, domain));
          CMO_ASSIGN_OR_RETURN(int partitions, replica->TopicPartitions(topic));
          auto it = schedule->policies.find(domain);
          CMO_ASSIGN_OR_RETURN(reconcile::HealPolicy policy,
                               reconcile::ParseHealPolicy(it != schedule->policies.end()
                                                              ? it->second
                                                              : schedule->default_policy));
          reconcile::JobRunOptions jo;
          jo.reconcile.domain = domain;
          jo.reconcile.policy = policy;
          jo.reconcile.replica_watermark = watermark;
          jo.region = region;
          jo.max_rows_per_s = schedule->max_rows_per_s;
          jo.should_stop = [this] { return stop_.load(); };
          jo.on_findings = [&](const std::vector<reconcile::KeyDiff>& diffs) -> absl::Status {
            std::vector<reconcile::DivergenceRecord> records;
            for (const reconcile::KeyDiff& d : diffs) {
              if (d.in_flight) continue;
              records.push_back(reconcile::FromKeyDiff(
                  d, region, partitions > 0 ? shadow::PartitionOf(d.key, partitions) : -1,
                  clock_.Now()));
            }
            return log->Append(records);
          };
          absl::StatusOr<reconcile::ReconcileJob> job =
              reconcile::RunJob(*jobs, *primary, *replica, jo, clock_);
          // A replica past the tombstone horizon needs an operator (full resync): flag it in
          // the audit log once, and go on with the other regions and domains.
          if (!job.ok() && !absl::IsFailedPrecondition(job.status())) return job.status();
          {
            std::lock_guard<std::mutex> lock(mu_);
            reconcile_done_.push_back(
                job.ok()
                    ? ReconcileDone{region, domain, job->rows_scanned, job->found, job->healed, ""}
                    : ReconcileDone{region, domain, 0, 0, 0, std::string(job.status().message())});
          }
          if (!job.ok() && flagged.insert(region + "/" + domain).second) {
            CMO_RETURN_IF_ERROR(
                state->flags
                    ->RecordEvent(
                        base::StrCat("reconcile:", region),
                        {"reconciler", std::string(job.status().message()), "resync_needed", false},
                        nullptr, {{"region", region}, {"domain", domain}})
                    .status());
          }
        }
      }
      std::lock_guard<std::mutex> lock(mu_);
      ++reconcile_passes_;
    }
    return absl::OkStatus();
  }();
  if (!st.ok()) Fail(st);
}

int64_t Server::reconcile_passes() {
  std::lock_guard<std::mutex> lock(mu_);
  return reconcile_passes_;
}

std::optional<ControlLoopMetrics> Server::control_metrics() {
  if (control_ == nullptr) return std::nullopt;
  return control_->metrics();
}

std::vector<Server::ReconcileDone> Server::TakeReconcileDone() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(reconcile_done_, {});
}

std::vector<Transition> Server::TakeTransitions() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(transitions_, {});
}

absl::Status Server::Stop() {
  stop_ = true;
  if (control_ != nullptr) control_->Stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // The embedded cluster goes with this process: clients must not find its address and wait
  // on a Kafka that is gone (they read flags from the state dir's database instead).
  if (embedded_ != nullptr) std::remove(BootstrapPath(config_.state_dir).c_str());
  return error();
}

}  // namespace cmo::orchestrator
