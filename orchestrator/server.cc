#include "orchestrator/server.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "base/status_macros.h"
#include "base/strings.h"
#include "shadow/change_event.h"

namespace cmo::orchestrator {

std::string PrimaryPath(const std::string& state_dir) {
  return base::StrCat(state_dir, "/primary.db");
}
std::string ReplicaPath(const std::string& state_dir, const std::string& region) {
  return base::StrCat(state_dir, "/replica-", region, ".db");
}
std::string BootstrapPath(const std::string& state_dir) {
  return base::StrCat(state_dir, "/kafka.bootstrap");
}

struct Server::Region {
  std::string name;
  std::unique_ptr<store::ReplicaStore> replica;
  std::unique_ptr<shadow::Applier> applier;
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

int64_t Server::MinApplied() const {
  int64_t min = INT64_MAX;
  for (const auto& r : regions_) min = std::min(min, r->watermark.load());
  return regions_.empty() ? 0 : min;
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServeConfig& config,
                                                      const base::Clock& clock) {
  std::unique_ptr<Server> s(new Server(config, clock));
  const std::string& dir = config.state_dir;
  std::function<absl::StatusOr<int>(const std::string&)> ensure_topic;
  if (config.kafka_brokers == "embedded") {
    CMO_ASSIGN_OR_RETURN(s->embedded_, base::KafkaMockCluster::Start(3));
    s->bootstrap_ = s->embedded_->bootstrap_servers();
    // Other local processes (kcat, a second applier) find the embedded cluster here.
    const std::string tmp = BootstrapPath(dir) + ".tmp";
    std::ofstream(tmp) << s->bootstrap_ << "\n";
    if (::rename(tmp.c_str(), BootstrapPath(dir).c_str()) != 0) {
      return absl::FailedPreconditionError(
          base::StrCat("cannot write ", BootstrapPath(dir), "; check the state dir"));
    }
    base::KafkaMockCluster* cluster = s->embedded_.get();
    const int partitions = config.kafka_partitions;
    ensure_topic = [cluster, partitions](const std::string& topic) -> absl::StatusOr<int> {
      CMO_RETURN_IF_ERROR(cluster->CreateTopic(topic, partitions, 3));
      return partitions;
    };
  } else {
    s->bootstrap_ = config.kafka_brokers;
    const base::KafkaConfig probe = {{"bootstrap.servers", s->bootstrap_}, {"log_level", "3"}};
    auto consumer = base::KafkaConsumer::Create(probe);
    if (!consumer.ok()) return consumer.status();
    std::shared_ptr<base::KafkaConsumer> meta = *std::move(consumer);
    ensure_topic = [meta, brokers = config.kafka_brokers, partitions = config.kafka_partitions](
                       const std::string& topic) -> absl::StatusOr<int> {
      auto n = meta->PartitionCount(topic, 5000);
      if (!n.ok()) {
        return absl::FailedPreconditionError(
            base::StrCat("change topic ", topic, " is missing on ", brokers, " (",
                         n.status().message(), "); create it with ", partitions, " partitions"));
      }
      return n;
    };
  }
  const base::KafkaConfig kafka = {{"bootstrap.servers", s->bootstrap_}, {"log_level", "3"}};
  CMO_ASSIGN_OR_RETURN(s->primary_, store::PrimaryStore::Open(PrimaryPath(dir), clock));
  Server* self = s.get();
  for (const std::string& name : config.regions) {
    auto region = std::make_unique<Region>();
    region->name = name;
    CMO_ASSIGN_OR_RETURN(region->replica, store::ReplicaStore::Open(ReplicaPath(dir, name)));
    CMO_ASSIGN_OR_RETURN(region->applier,
                         shadow::Applier::Create(*region->replica, kafka, clock, {.region = name},
                                                 [self] { self->republish_ = true; }));
    CMO_ASSIGN_OR_RETURN(int64_t w, region->applier->Watermark());
    region->watermark = w;
    s->regions_.push_back(std::move(region));
  }
  CMO_ASSIGN_OR_RETURN(
      s->relay_, shadow::OutboxRelay::Create(
                     *s->primary_, kafka, ensure_topic,
                     [self]() -> absl::StatusOr<int64_t> { return self->MinApplied(); }, clock));
  s->threads_.emplace_back([self] { self->RunRelay(); });
  for (auto& r : s->regions_) {
    Region* region = r.get();
    s->threads_.emplace_back([self, region] { self->RunApplier(*region); });
  }
  return s;
}

void Server::RunRelay() {
  while (!stop_.load()) {
    if (republish_.exchange(false)) {
      if (absl::Status st = relay_->RequestRepublish(); !st.ok()) Fail(st);
    }
    absl::Status st = relay_->Step(10);
    if (!st.ok()) {
      Fail(st);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    relay_metrics_ = relay_->metrics();
  }
  if (absl::Status st = relay_->Flush(5000); !st.ok()) Fail(st);
}

void Server::RunApplier(Region& region) {
  absl::Time published = absl::InfinitePast();
  while (!stop_.load()) {
    absl::Status st = region.applier->Step(50);
    if (!st.ok()) {
      Fail(st);
      return;
    }
    auto w = region.applier->Watermark();
    if (w.ok()) region.watermark = *w;
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

absl::Status Server::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  return error();
}

}  // namespace cmo::orchestrator
