#include "shadow/applier.h"

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"
#include "shadow/change_event.h"

namespace cmo::shadow {

Applier::Applier(store::ReplicaStore& replica, const base::Clock& clock, ApplierOptions options,
                 OnLogLoss on_log_loss)
    : replica_(replica),
      clock_(clock),
      options_(std::move(options)),
      on_log_loss_(std::move(on_log_loss)),
      started_(clock.Now()) {
  bulk_.stalled = priority_.stalled = StalledPartitions(options_.stall_after);
}

Applier::~Applier() {
  priority_.consumer.reset();
  bulk_.consumer.reset();
}

absl::StatusOr<std::unique_ptr<Applier>> Applier::Create(store::ReplicaStore& replica,
                                                         const base::KafkaConfig& kafka,
                                                         const base::Clock& clock,
                                                         ApplierOptions options,
                                                         OnLogLoss on_log_loss) {
  std::unique_ptr<Applier> a(
      new Applier(replica, clock, std::move(options), std::move(on_log_loss)));
  a->kafka_ = kafka;
  CMO_ASSIGN_OR_RETURN(a->bulk_.consumer, a->NewConsumer(/*priority=*/false));
  CMO_RETURN_IF_ERROR(a->RefreshTopics());
  return a;
}

absl::StatusOr<std::unique_ptr<base::KafkaConsumer>> Applier::NewConsumer(bool priority) {
  base::KafkaConfig config = kafka_;
  // Positions live in the replica (committed with the rows), not in Kafka's group offsets.
  config.emplace("group.id",
                 base::StrCat("cmo-applier-", options_.region, priority ? "-priority" : ""));
  config.emplace("enable.auto.commit", "false");
  config.emplace("enable.auto.offset.store", "false");
  config.emplace("reconnect.backoff.max.ms", "200");
  config.emplace("fetch.wait.max.ms", "10");
  // A transactional relay's aborted batches (shadow/outbox_relay.h) are never applied; with an
  // idempotent relay every message is committed and this changes nothing.
  config.emplace("isolation.level", "read_committed");
  if (options_.consumer_group) {
    // A member that dies (kill -9, host down) gives its partitions back after this, not after
    // the broker default (45 s): its region's lag grows meanwhile.
    config.emplace("session.timeout.ms", "6000");
    config.emplace("heartbeat.interval.ms", "1000");
  }
  // Never jump silently: a position outside the log (retention deleted changes not yet
  // applied) must be seen, so that what is missing is re-published from the outbox.
  config.emplace("auto.offset.reset", "error");
  return base::KafkaConsumer::Create(config);
}

absl::Status Applier::RefreshTopics() {
  last_refresh_ = clock_.Now();
  auto listed = bulk_.consumer->ListTopics("cmo.", 2000);
  if (!listed.ok()) return absl::OkStatus();  // broker unreachable: keep what we have
  std::optional<std::vector<std::string>> domains;
  if (options_.domains) {
    const absl::Time asked = clock_.Now();
    absl::StatusOr<std::vector<std::string>> got = options_.domains();
    if (!got.ok()) return absl::OkStatus();  // primary unreachable: keep what we have
    // A primary with no domain has no change yet, so the replica has them all. The relay has
    // no topic to send heartbeats on, so without this an idle new deployment would look
    // behind since its start and trip the first op ramped before anything is written.
    if (got->empty() && (!metrics_.caught_up_to || *metrics_.caught_up_to < asked)) {
      metrics_.caught_up_to = asked;
    }
    domains = *std::move(got);
  }
  std::map<std::string, int> bulk, priority;
  for (const auto& [topic, n] : *listed) {
    const bool is_bulk = topic.starts_with(ChangeTopic("")) && topic != ChangeTopic("");
    const bool is_priority =
        topic.starts_with(kPriorityTopicPrefix) && topic.size() > kPriorityTopicPrefix.size();
    if (!is_bulk && !is_priority) continue;
    if (domains.has_value()) {
      const std::string domain =
          topic.substr(is_bulk ? ChangeTopic("").size() : kPriorityTopicPrefix.size());
      if (std::find(domains->begin(), domains->end(), domain) == domains->end()) continue;
    }
    (is_bulk ? bulk : priority).emplace(topic, n);
  }
  // The priority channel's topics are recorded first: a replica that records a change topic
  // has its priority topic recorded already, or there was none (DomainWatermark).
  if (!priority.empty() && priority_.consumer == nullptr) {
    CMO_ASSIGN_OR_RETURN(priority_.consumer, NewConsumer(/*priority=*/true));
  }
  if (priority_.consumer != nullptr) CMO_RETURN_IF_ERROR(AssignChannel(priority_, priority));
  CMO_RETURN_IF_ERROR(AssignChannel(bulk_, bulk));
  topics_ = bulk_.topics;
  topics_.insert(priority_.topics.begin(), priority_.topics.end());
  return absl::OkStatus();
}

absl::Status Applier::AssignChannel(Channel& channel, const std::map<std::string, int>& topics) {
  if (topics == channel.topics) return absl::OkStatus();
  base::KafkaConsumer& consumer = *channel.consumer;
  if (options_.consumer_group) {
    CMO_RETURN_IF_ERROR(Subscribe(channel, topics));
  } else {
    std::vector<base::TopicPartitionOffset> all;
    for (const auto& [topic, partitions] : topics) {
      for (int32_t p = 0; p < partitions; ++p) all.push_back({topic, p, base::kOffsetBeginning});
    }
    CMO_ASSIGN_OR_RETURN(std::vector<base::TopicPartitionOffset> assignment,
                         PositionsFor(consumer, all));
    CMO_RETURN_IF_ERROR(consumer.Assign(assignment));
  }
  CMO_RETURN_IF_ERROR(replica_.SetTopicPartitions(topics));
  channel.topics = topics;
  return absl::OkStatus();
}

absl::Status Applier::Subscribe(Channel& channel, const std::map<std::string, int>& topics) {
  // The group decides which partitions are ours; PositionsFor says where to read them.
  std::vector<std::string> names;
  for (const auto& [topic, n] : topics) names.push_back(topic);
  base::KafkaConsumer& consumer = *channel.consumer;
  CMO_RETURN_IF_ERROR(consumer.Subscribe(
      names, [this, &consumer](const std::vector<base::TopicPartitionOffset>& given) {
        return PositionsFor(consumer, given);
      }));
  channel.stalled.Watch(topics, clock_.Now());
  return absl::OkStatus();
}

absl::Status Applier::RejoinIfStalled() {
  last_stall_check_ = clock_.Now();
  CMO_ASSIGN_OR_RETURN(std::vector<store::PartitionProgress> progress, replica_.Progress());
  for (Channel* channel : {&bulk_, &priority_}) {
    if (channel->topics.empty()) continue;
    std::vector<StalledPartitions::Partition> stalled =
        channel->stalled.Observe(progress, clock_.Now());
    if (stalled.empty()) continue;
    // One of ours standing still is not a rebalance's to fix (its relay may be the one down,
    // e.g. a CDC source's while the outbox relay runs); only one nobody here was given is.
    CMO_ASSIGN_OR_RETURN(std::vector<base::TopicPartitionOffset> ours,
                         channel->consumer->Assignment());
    const bool left_out = std::any_of(stalled.begin(), stalled.end(), [&](const auto& p) {
      return std::none_of(ours.begin(), ours.end(), [&](const base::TopicPartitionOffset& o) {
        return o.topic == p.first && o.partition == p.second;
      });
    });
    if (!left_out) continue;
    // Subscribing again to the same topics makes the group rebalance, and the assignor then
    // reads fresh metadata.
    ++metrics_.rejoins;
    CMO_RETURN_IF_ERROR(Subscribe(*channel, channel->topics));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<base::TopicPartitionOffset>> Applier::PositionsFor(
    base::KafkaConsumer& consumer, const std::vector<base::TopicPartitionOffset>& partitions) {
  CMO_ASSIGN_OR_RETURN(std::vector<store::PartitionProgress> stored, replica_.Progress());
  std::vector<base::TopicPartitionOffset> out;
  std::vector<std::pair<std::string, int32_t>> lost;
  for (const base::TopicPartitionOffset& given : partitions) {
    const std::pair<std::string, int32_t> tp{given.topic, given.partition};
    int64_t next = base::kOffsetBeginning;
    awaiting_[tp] = 0;
    for (const store::PartitionProgress& s : stored) {
      if (s.topic == given.topic && s.partition == given.partition) {
        next = s.next_offset;
        applied_lsn_[tp] = s.max_lsn;
        awaiting_[tp] = s.awaiting_republish;
      }
    }
    auto marks = consumer.Watermarks(given.topic, given.partition, 2000);
    // Our position is past the end (the log restarted empty) or before the start (retention,
    // or the capped log, dropped records we never read); or we never read this partition and
    // its log no longer starts at its beginning. Read what is there, have the relay
    // re-publish the rest: already-applied versions are skipped by LSN.
    if (marks.ok() &&
        (next >= 0 ? next > marks->second || next < marks->first : marks->first > 0)) {
      lost.push_back(tp);
      next = base::kOffsetBeginning;
    }
    out.push_back({given.topic, given.partition, next});
  }
  if (!lost.empty()) {
    ++metrics_.log_resets;
    if (on_log_loss_) {
      CMO_ASSIGN_OR_RETURN(int64_t request, on_log_loss_());
      for (const auto& tp : lost) awaiting_[tp] = request;
    }
  }
  return out;
}

absl::Status Applier::Reassign(Channel& channel) {
  // Nothing of this batch was applied; the positions in the replica are still the truth.
  // Reading each partition again from there checks it against its log (PositionsFor).
  CMO_ASSIGN_OR_RETURN(std::vector<base::TopicPartitionOffset> current,
                       channel.consumer->Assignment());
  CMO_ASSIGN_OR_RETURN(std::vector<base::TopicPartitionOffset> positions,
                       PositionsFor(*channel.consumer, current));
  return channel.consumer->Assign(positions);
}

void Applier::RecordLag(absl::Time now, absl::Duration lag, bool priority) {
  const double seconds = absl::ToDoubleSeconds(lag);
  for (size_t b = 0; b < kLagBucketsSeconds.size(); ++b) {
    if (seconds <= kLagBucketsSeconds[b]) ++metrics_.lag_buckets[b];
  }
  ++metrics_.lag_count;
  metrics_.lag_sum_seconds += seconds;
  lag_ms_.push_back({now, absl::ToDoubleMilliseconds(lag), priority});
  while (lag_ms_.size() > static_cast<size_t>(options_.lag_samples)) lag_ms_.pop_front();
}

void Applier::PruneLag(absl::Time now) {
  while (!lag_ms_.empty() && lag_ms_.front().at < now - options_.lag_window) {
    lag_ms_.pop_front();
  }
}

absl::Duration LingerFor(const ApplierOptions& options, int polled) {
  return polled >= options.batch / 4 ? options.linger_when_behind : options.linger;
}

absl::Status Applier::Step(int timeout_ms) {
  if (clock_.Now() - last_refresh_ >= options_.topic_refresh) CMO_RETURN_IF_ERROR(RefreshTopics());
  if (topics_.empty()) return absl::OkStatus();
  if (options_.consumer_group && clock_.Now() - last_stall_check_ >= options_.stall_check) {
    CMO_RETURN_IF_ERROR(RejoinIfStalled());
  }
  std::vector<base::KafkaMessage> fast;
  if (!priority_.topics.empty()) {
    // Whatever the bulk holds, priority changes go first; and the bulk poll below waits only a
    // little, so that one arriving meanwhile waits for at most one bulk batch.
    absl::StatusOr<std::vector<base::KafkaMessage>> polled =
        priority_.consumer->Poll(options_.batch, 0);
    if (absl::IsOutOfRange(polled.status())) return Reassign(priority_);
    CMO_RETURN_IF_ERROR(polled.status());
    fast = *std::move(polled);
    timeout_ms = std::min(timeout_ms, 5);
  }
  if (bulk_.topics.empty()) return Apply(std::move(fast));
  return PollAndApply(bulk_, timeout_ms, std::move(fast));
}

absl::Status Applier::ServePriorityUntil(absl::Time until) {
  while (clock_.Now() < until) {
    if (priority_.topics.empty()) {
      clock_.SleepFor(until - clock_.Now());
      return absl::OkStatus();
    }
    const int ms = static_cast<int>(
        std::clamp<int64_t>(absl::ToInt64Milliseconds(until - clock_.Now()), 0, 5));
    CMO_RETURN_IF_ERROR(PollAndApply(priority_, ms, {}));
  }
  return absl::OkStatus();
}

absl::Status Applier::PollAndApply(Channel& channel, int timeout_ms,
                                   std::vector<base::KafkaMessage> fast) {
  // `fast` left the priority consumer: it is applied whatever happens here, or this applier
  // fails and a new one reads it again from the replica's positions.
  const auto reassign = [&]() -> absl::Status {
    CMO_RETURN_IF_ERROR(Apply(std::move(fast)));
    return Reassign(channel);
  };
  absl::StatusOr<std::vector<base::KafkaMessage>> polled =
      channel.consumer->Poll(options_.batch, timeout_ms);
  if (absl::IsOutOfRange(polled.status())) return reassign();
  CMO_RETURN_IF_ERROR(polled.status());
  std::vector<base::KafkaMessage> messages = *std::move(polled);
  if (messages.empty()) return Apply(std::move(fast));
  // Linger to fill the batch: every apply is one transaction (one fsync, one write of each page
  // it touches), so many small batches would cap throughput. A few ms is small next to the lag
  // budget; an applier that is behind waits longer, for a batch that shares more pages.
  // Priority batches do not linger: they are few, and waiting is what they exist to avoid.
  const absl::Time linger_until =
      clock_.Now() + (channel.priority ? absl::ZeroDuration()
                                       : LingerFor(options_, static_cast<int>(messages.size())));
  while (static_cast<int>(messages.size()) < options_.batch && clock_.Now() < linger_until) {
    absl::StatusOr<std::vector<base::KafkaMessage>> more =
        channel.consumer->Poll(options_.batch - static_cast<int>(messages.size()), 1);
    if (absl::IsOutOfRange(more.status())) return reassign();
    CMO_RETURN_IF_ERROR(more.status());
    if (more->empty()) continue;
    for (base::KafkaMessage& m : *more) messages.push_back(std::move(m));
  }
  if (options_.simulated_bulk_delay > absl::ZeroDuration()) {
    // The bulk batch will be held: the priority one must not wait with it.
    CMO_RETURN_IF_ERROR(Apply(std::move(fast)));
  } else {
    // One transaction for both: an fsync per step, not two.
    for (base::KafkaMessage& m : fast) messages.push_back(std::move(m));
  }
  return Apply(std::move(messages));
}

absl::Status Applier::Apply(std::vector<base::KafkaMessage> messages) {
  if (messages.empty()) return absl::OkStatus();
  std::vector<store::Row> rows;
  // Per row: first delivered now (its LSN above what its partition had applied before this
  // batch). Only those are lag; a redelivery (the relay re-publishing after a lost log,
  // at-least-once delivery) carries a commit time from long ago. Nor are the rows of a
  // partition awaiting re-publication: what came before them may be missing.
  std::vector<char> first_delivery;
  std::vector<char> priority;  // per row: it came through the priority channel
  std::vector<absl::Time> heartbeats_sent;  // of the heartbeats that prove a catch-up
  struct Partition {
    store::PartitionProgress progress;  // max_lsn: raised by this batch only (0: not raised)
    int64_t applied_before = 0;
  };
  std::map<std::pair<std::string, int32_t>, Partition> partitions;
  for (const base::KafkaMessage& m : messages) {
    auto [it, added] = partitions.try_emplace({m.topic, m.partition});
    Partition& part = it->second;
    store::PartitionProgress& p = part.progress;
    if (added) {
      p.topic = m.topic;
      p.partition = m.partition;
      part.applied_before = applied_lsn_[it->first];
      p.awaiting_republish = awaiting_[it->first];
    }
    p.next_offset = m.offset + 1;
    absl::StatusOr<ChangeEvent> e = DecodeEvent(m.value);
    if (!e.ok()) {
      ++metrics_.undecodable;
      continue;
    }
    const bool signed_ok =
        e->heartbeat && options_.keys != nullptr && options_.keys->Verify(m.value).ok();
    CMO_ASSIGN_OR_RETURN(bool plausible, Plausible(e->heartbeat, signed_ok, e->row.lsn));
    if (!plausible) {
      ++metrics_.refused;
      continue;
    }
    if (p.awaiting_republish > 0 && e->heartbeat && e->republish >= p.awaiting_republish) {
      p.awaiting_republish = 0;  // the relay's answer: what it claims came before it
    }
    // Until then, what the partition holds is applied but proves nothing.
    const bool proves = p.awaiting_republish == 0;
    if (proves) p.max_lsn = std::max(p.max_lsn, e->row.lsn);
    if (e->heartbeat) {
      ++metrics_.heartbeats;
      if (!proves) continue;
      // A promise that every change of its partition up to its LSN came before it, and that
      // its LSN was all the relay had published at `sent`: once applied, the partition is
      // caught up to `sent`. Only one not older
      // than what the partition had already applied proves anything now.
      if (e->row.lsn >= part.applied_before) heartbeats_sent.push_back(e->sent);
    } else {
      e->row.kafka_offset = m.offset;
      first_delivery.push_back(proves && e->row.lsn > part.applied_before);
      priority.push_back(m.topic.starts_with(kPriorityTopicPrefix));
      rows.push_back(std::move(e->row));
    }
  }
  const bool bulk = std::find(priority.begin(), priority.end(), 0) != priority.end();
  const absl::Duration delay =
      options_.simulated_delay + (bulk ? options_.simulated_bulk_delay : absl::ZeroDuration());
  if (delay > absl::ZeroDuration() && !rows.empty()) {
    // Waits for the oldest change only: what arrives meanwhile is the next batch, already
    // delayed, so throughput is not capped by the delay (a long link, not a narrow one).
    absl::Time oldest = rows.front().commit_time;
    for (const store::Row& r : rows) oldest = std::min(oldest, r.commit_time);
    const absl::Time until = oldest + delay;
    if (bulk && options_.simulated_bulk_delay > absl::ZeroDuration()) {
      CMO_RETURN_IF_ERROR(ServePriorityUntil(until));
    } else {
      clock_.SleepFor(until - clock_.Now());
    }
  }
  std::vector<store::PartitionProgress> positions;
  for (const auto& [tp, part] : partitions) positions.push_back(part.progress);
  CMO_ASSIGN_OR_RETURN(store::ApplyStats stats, replica_.Apply(rows, positions));
  ++commits_;
  metrics_.applied += stats.applied;
  metrics_.transactions += stats.applied > 0 ? 1 : 0;
  metrics_.stale += stats.stale;
  const absl::Time now = clock_.Now();
  std::optional<absl::Time> caught_up = metrics_.caught_up_to;
  auto prove = [&](absl::Time t) {
    if (!caught_up.has_value() || t > *caught_up) caught_up = t;
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!first_delivery[i]) continue;
    // A backlog drained at start is lag since the start, not since its commit: the windows
    // start afresh with the process (what happened while no one measured is not an
    // observation, and a ten-minute-old commit must not pin the p99 for the next minute).
    RecordLag(now, now - std::max(rows[i].commit_time, started_), priority[i] != 0);
    metrics_.priority_applied += priority[i];
    prove(rows[i].commit_time);
  }
  for (absl::Time sent : heartbeats_sent) prove(sent);
  for (const auto& [tp, part] : partitions) {
    int64_t& applied = applied_lsn_[tp];
    applied = std::max(applied, part.progress.max_lsn);
    awaiting_[tp] = part.progress.awaiting_republish;
  }
  metrics_.caught_up_to = caught_up;
  return absl::OkStatus();
}

absl::StatusOr<bool> Applier::Plausible(bool heartbeat, bool signed_ok, int64_t lsn) {
  if (lsn <= 0) return false;
  if (heartbeat && options_.keys != nullptr && !signed_ok) return false;
  if (!options_.lsn_ceiling || lsn <= lsn_ceiling_) return true;
  // Asked again only when an event goes past the last answer: once per batch at most.
  absl::StatusOr<int64_t> ceiling = options_.lsn_ceiling();
  if (!ceiling.ok()) return ceiling.status();
  lsn_ceiling_ = *ceiling;
  return lsn <= lsn_ceiling_;
}

absl::StatusOr<int64_t> Applier::Watermark() {
  std::vector<std::pair<std::string, int32_t>> partitions;
  for (const auto& [topic, n] : topics_) {
    for (int32_t p = 0; p < n; ++p) partitions.emplace_back(topic, p);
  }
  return replica_.Watermark(partitions);
}

ApplierMetrics Applier::metrics() {
  auto w = Watermark();
  if (w.ok()) metrics_.watermark = *w;
  PruneLag(clock_.Now());
  metrics_.lag_samples = static_cast<int64_t>(lag_ms_.size());
  metrics_.awaiting_republish = static_cast<int64_t>(std::count_if(
      awaiting_.begin(), awaiting_.end(), [](const auto& a) { return a.second > 0; }));
  metrics_.lag_p50_ms = metrics_.lag_p95_ms = metrics_.lag_p99_ms = 0;
  metrics_.bulk_lag_p50_ms = metrics_.bulk_lag_p99_ms = 0;
  metrics_.priority_lag_p50_ms = metrics_.priority_lag_p99_ms = 0;
  // Three selections instead of a sort: this runs on every status read (the control loop
  // reads it ten times a second), over up to lag_samples values. Ascending quantiles, so
  // each selection only searches what lies above the one before.
  auto quantiles = [](std::vector<double>& v,
                      std::initializer_list<std::pair<double, double*>> qs) {
    if (v.empty()) return;
    auto from = v.begin();
    for (const auto& [q, out] : qs) {
      auto nth = v.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(v.size() - 1));
      std::nth_element(from, nth, v.end());
      from = nth;
      *out = *nth;
    }
  };
  std::vector<double> all, bulk, priority;
  all.reserve(lag_ms_.size());
  for (const LagSample& s : lag_ms_) {
    all.push_back(s.ms);
    (s.priority ? priority : bulk).push_back(s.ms);
  }
  metrics_.priority_lag_samples = static_cast<int64_t>(priority.size());
  quantiles(
      all,
      {{0.50, &metrics_.lag_p50_ms}, {0.95, &metrics_.lag_p95_ms}, {0.99, &metrics_.lag_p99_ms}});
  quantiles(bulk, {{0.50, &metrics_.bulk_lag_p50_ms}, {0.99, &metrics_.bulk_lag_p99_ms}});
  quantiles(priority,
            {{0.50, &metrics_.priority_lag_p50_ms}, {0.99, &metrics_.priority_lag_p99_ms}});
  return metrics_;
}

}  // namespace cmo::shadow
