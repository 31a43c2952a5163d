#include "shadow/outbox_relay.h"

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"
#include "shadow/change_event.h"

namespace cmo::shadow {
namespace {

// How long a transactional step waits for its commit before leaving it to the next step.
constexpr int kCommitWaitMs = 1000;

// A change's delivery-report tag: its LSN, and in the bits above, the rewind it was sent
// after. A report of a copy sent before the latest rewind must not mark the copy sent after it
// acknowledged: what heartbeats claim after a rewind must have been written after it. (A
// report 2048 rewinds old would pass for a new one; none stays outstanding that long.)
constexpr int kLsnBits = 52;  // LSNs up to 4.5e15: 140 years at a million writes a second
constexpr uint64_t kLsnMask = (uint64_t{1} << kLsnBits) - 1;
constexpr uint64_t kRewindMask = (uint64_t{1} << (63 - kLsnBits)) - 1;

}  // namespace

base::KafkaConfig DataPathProducerConfig(base::KafkaConfig config) {
  config.emplace("enable.idempotence", "true");
  config.emplace("acks", "all");
  config.emplace("message.timeout.ms", "0");
  config.emplace("reconnect.backoff.max.ms", "200");
  config.emplace("linger.ms", "2");
  config.emplace("queue.buffering.max.messages", "1000000");
  return config;
}

OutboxRelay::OutboxRelay(store::PrimaryStore& primary, EnsureTopic ensure_topic,
                         MinApplied min_applied, const base::Clock& clock, RelayOptions options)
    : primary_(primary),
      ensure_topic_(std::move(ensure_topic)),
      min_applied_(std::move(min_applied)),
      clock_(clock),
      options_(options) {}

absl::StatusOr<std::unique_ptr<OutboxRelay>> OutboxRelay::Create(
    store::PrimaryStore& primary, const base::KafkaConfig& kafka, EnsureTopic ensure_topic,
    MinApplied min_applied, const base::Clock& clock, RelayOptions options) {
  std::unique_ptr<OutboxRelay> relay(
      new OutboxRelay(primary, std::move(ensure_topic), std::move(min_applied), clock, options));
  base::KafkaConfig config = kafka;
  if (relay->transactional()) {
    // A transaction must end within transaction.timeout.ms, so its messages cannot wait
    // forever: an outage longer than this aborts the transaction, which is then sent again.
    config["transactional.id"] = options.transactional_id;
    config.emplace("transaction.timeout.ms", "60000");
    config.emplace("message.timeout.ms", config["transaction.timeout.ms"]);
  }
  OutboxRelay* self = relay.get();
  CMO_ASSIGN_OR_RETURN(
      relay->producer_,
      base::KafkaProducer::Create(DataPathProducerConfig(std::move(config)),
                                  [self](const base::DeliveryReport& r) { self->OnDelivery(r); }));
  if (relay->transactional()) {
    // Fences an earlier relay of this transactional.id and aborts what it left open.
    CMO_RETURN_IF_ERROR(relay->producer_->InitTransactions(30'000));
  }
  CMO_ASSIGN_OR_RETURN(relay->requested_, primary.RepublishRequests());
  CMO_ASSIGN_OR_RETURN(relay->published_through_, primary.PublishedThrough());
  relay->persisted_through_ = relay->published_through_;
  CMO_ASSIGN_OR_RETURN(std::vector<std::string> domains, primary.Domains());
  for (const std::string& d : domains)
    CMO_RETURN_IF_ERROR(relay->Partitions(ChangeTopic(d)).status());
  // Start from what every region has applied: if the change log was lost while we were down
  // (the embedded cluster restarts empty), this re-publishes it. Duplicates are harmless.
  CMO_RETURN_IF_ERROR(relay->Rewind());
  return relay;
}

absl::Status OutboxRelay::Rewind() {
  // The request is read before the regions' progress: an applier that filed it had already
  // stopped its lost partitions' watermarks, so `from` is at or below where they stand.
  const int64_t answering = requested_;
  CMO_ASSIGN_OR_RETURN(int64_t applied, min_applied_(partitions_));
  const int64_t from = std::min(applied, published_through_);
  if (from < last_sent_ || last_sent_ == 0) ++metrics_.republications;
  last_sent_ = from;
  resent_through_ = from;
  ++rewinds_;
  in_flight_.clear();
  rewind_ = false;
  answered_ = answering;
  return absl::OkStatus();
}

absl::Status OutboxRelay::CheckRequests(absl::Time now) {
  if (now - last_request_check_ < options_.request_check_interval) return absl::OkStatus();
  last_request_check_ = now;
  CMO_ASSIGN_OR_RETURN(int64_t requested, primary_.RepublishRequests());
  if (requested > answered_) {
    requested_ = requested;
    rewind_ = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<int> OutboxRelay::Partitions(const std::string& topic) {
  auto it = partitions_.find(topic);
  if (it != partitions_.end()) return it->second;
  if (options_.priority_channel && topic.starts_with(ChangeTopic(""))) {
    // The priority topic first: an applier that finds the change topic finds it too, so the
    // replica never records a domain's change topic without it (DomainWatermark).
    CMO_RETURN_IF_ERROR(Partitions(PriorityTopic(topic.substr(ChangeTopic("").size()))).status());
  }
  CMO_ASSIGN_OR_RETURN(int n, ensure_topic_(topic));
  if (n <= 0) return absl::InternalError(base::StrCat("topic ", topic, " has no partitions"));
  partitions_[topic] = n;
  return n;
}

void OutboxRelay::OnDelivery(const base::DeliveryReport& report) {
  if (report.opaque == 0) return;                                       // a heartbeat
  if ((report.opaque >> kLsnBits) != (rewinds_ & kRewindMask)) return;  // re-sent since
  const int64_t lsn = static_cast<int64_t>(report.opaque & kLsnMask);
  if (!report.status.ok()) {
    ++metrics_.delivery_failures;
    rewind_ = true;
    return;
  }
  ++metrics_.published;
  auto it = in_flight_.find(lsn);
  if (it != in_flight_.end()) it->second = true;
}

absl::Status OutboxRelay::Fatal(const absl::Status& s) const {
  // An idempotent relay's refusals (credentials, ACLs) keep their own message.
  if (!transactional() || !absl::IsFailedPrecondition(s)) return s;
  return absl::FailedPreconditionError(
      base::StrCat("Kafka refuses this relay's transactions (", s.message(),
                   "). If another relay with kafka.transactional_id ", options_.transactional_id,
                   " started, it took over and fenced this one: run one relay per primary"));
}

absl::Status OutboxRelay::Send(const std::string& topic, int32_t partition, std::string_view key,
                               std::string_view value, uint64_t opaque) {
  if (transactional() && !in_transaction_) {
    CMO_RETURN_IF_ERROR(Fatal(producer_->BeginTransaction()));
    in_transaction_ = true;
  }
  return Fatal(producer_->Produce(topic, partition, key, value, opaque));
}

absl::Status OutboxRelay::Commit(int timeout_ms) {
  if (!in_transaction_) return absl::OkStatus();
  const absl::Status s = producer_->CommitTransaction(timeout_ms);
  committing_ = absl::IsUnavailable(s);  // timed out: commit again, nothing may join it
  if (s.ok()) {
    in_transaction_ = false;
    ++metrics_.transactions;
    return absl::OkStatus();
  }
  if (committing_) return absl::OkStatus();
  if (!absl::IsAborted(s)) return Fatal(s);
  ++metrics_.aborted_transactions;
  if (absl::Status a = producer_->AbortTransaction(timeout_ms); !a.ok()) {
    // A new relay (a new producer of the same id) aborts it when it starts.
    return absl::UnavailableError(base::StrCat(s.message(), "; then ", a.message()));
  }
  in_transaction_ = false;
  return Rewind();  // what the aborted transaction held was never visible: send it again
}

void OutboxRelay::AdvancePublished() {
  // In a transaction, nothing counts before it commits: an aborted one's delivery reports
  // may say "delivered" of messages that read_committed appliers never see.
  if (in_transaction_) return;
  while (!in_flight_.empty() && in_flight_.begin()->second) {
    resent_through_ = in_flight_.begin()->first;
    published_through_ = std::max(published_through_, resent_through_);
    in_flight_.erase(in_flight_.begin());
  }
}

absl::Status OutboxRelay::Step(int timeout_ms) {
  producer_->Poll(0);
  if (committing_) {
    CMO_RETURN_IF_ERROR(Commit(std::max(timeout_ms, kCommitWaitMs)));
    if (committing_) return absl::OkStatus();  // Kafka is slow or away
  }
  CMO_RETURN_IF_ERROR(CheckRequests(clock_.Now()));
  if (rewind_ && !in_transaction_) CMO_RETURN_IF_ERROR(Rewind());
  // Read and send, within the in-flight bound (backpressure).
  const int room = options_.max_in_flight - static_cast<int>(in_flight_.size());
  if (room > 0) {
    CMO_ASSIGN_OR_RETURN(std::vector<store::OutboxEntry> entries,
                         primary_.ReadOutbox(last_sent_, std::min(room, options_.batch)));
    for (const store::OutboxEntry& e : entries) {
      const std::string topic = e.priority && options_.priority_channel
                                    ? PriorityTopic(e.row.domain)
                                    : ChangeTopic(e.row.domain);
      CMO_ASSIGN_OR_RETURN(int partitions, Partitions(topic));
      absl::Status s =
          Send(topic, PartitionOf(e.row.key, partitions), e.row.key, EncodeChange(e),
               ((rewinds_ & kRewindMask) << kLsnBits) | static_cast<uint64_t>(e.row.lsn));
      if (absl::IsUnavailable(s)) break;  // local queue full: try again next step
      CMO_RETURN_IF_ERROR(s);
      in_flight_[e.row.lsn] = false;
      last_sent_ = e.row.lsn;
    }
    // Nothing left to send again: what the outbox no longer holds up to published_through
    // was trimmed, i.e. applied everywhere, so heartbeats may claim it all.
    if (entries.empty() && in_flight_.empty()) {
      resent_through_ = std::max(resent_through_, published_through_);
    }
  }
  if (transactional()) {
    // Commit serves the delivery reports (an aborted transaction has rewound). Heartbeats
    // sent below open the next transaction, which the next step's changes join.
    CMO_RETURN_IF_ERROR(Commit(std::max(timeout_ms, kCommitWaitMs)));
    if (committing_) return absl::OkStatus();  // nothing may be sent until it commits
  } else {
    producer_->Poll(timeout_ms);
  }
  AdvancePublished();
  const absl::Time now = clock_.Now();
  // Persisted at most every persist_interval: each write takes the primary's write lock (and an
  // fsync) away from the application. A stale value only means more re-publication after a
  // restart, which appliers ignore by LSN.
  if (published_through_ > persisted_through_ && now - last_persist_ >= options_.persist_interval) {
    CMO_RETURN_IF_ERROR(primary_.SetPublishedThrough(published_through_));
    persisted_through_ = published_through_;
    last_persist_ = now;
  }
  const int64_t claim = std::min(resent_through_, published_through_);
  const absl::Duration heartbeat_every =
      claim != heartbeat_lsn_ ? options_.heartbeat_interval : options_.idle_heartbeat_interval;
  if (now - last_heartbeat_ >= heartbeat_every) {
    last_heartbeat_ = now;
    heartbeat_lsn_ = claim;
    std::string hb = EncodeHeartbeat(claim, now, answered_);
    if (options_.keys != nullptr) hb = options_.keys->Sign(hb);
    for (const auto& [topic, partitions] : partitions_) {
      for (int32_t p = 0; p < partitions; ++p) {
        absl::Status s = Send(topic, p, "", hb, 0);
        if (!s.ok() && !absl::IsUnavailable(s)) return s;
      }
    }
  }
  if (now - last_trim_ >= options_.trim_interval) {
    last_trim_ = now;
    CMO_ASSIGN_OR_RETURN(int64_t applied, min_applied_(partitions_));
    CMO_RETURN_IF_ERROR(primary_.TrimOutbox(std::min(applied, published_through_)));
  }
  CMO_ASSIGN_OR_RETURN(metrics_.last_lsn, primary_.LastLsn());
  metrics_.published_through = published_through_;
  metrics_.outbox_lag = metrics_.last_lsn - published_through_;
  metrics_.in_flight = static_cast<int64_t>(in_flight_.size());
  return absl::OkStatus();
}

absl::Status OutboxRelay::Flush(int timeout_ms) {
  if (transactional()) {
    CMO_RETURN_IF_ERROR(Commit(timeout_ms));
    if (in_transaction_) {
      return absl::DeadlineExceededError(
          "flush: the relay's last transaction did not commit in time");
    }
  } else {
    CMO_RETURN_IF_ERROR(producer_->Flush(timeout_ms));
  }
  AdvancePublished();
  metrics_.published_through = published_through_;
  if (published_through_ > persisted_through_) {
    CMO_RETURN_IF_ERROR(primary_.SetPublishedThrough(published_through_));
    persisted_through_ = published_through_;
  }
  return absl::OkStatus();
}

}  // namespace cmo::shadow
