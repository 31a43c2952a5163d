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
      started_(clock.Now()) {}

absl::StatusOr<std::unique_ptr<Applier>> Applier::Create(store::ReplicaStore& replica,
                                                         const base::KafkaConfig& kafka,
                                                         const base::Clock& clock,
                                                         ApplierOptions options,
                                                         OnLogLoss on_log_loss) {
  std::unique_ptr<Applier> a(
      new Applier(replica, clock, std::move(options), std::move(on_log_loss)));
  base::KafkaConfig config = kafka;
  // Positions live in the replica (committed with the rows), not in Kafka's group offsets.
  config.emplace("group.id", base::StrCat("cmo-applier-", a->options_.region));
  config.emplace("enable.auto.commit", "false");
  config.emplace("enable.auto.offset.store", "false");
  config.emplace("reconnect.backoff.max.ms", "200");
  config.emplace("fetch.wait.max.ms", "10");
  // A transactional relay's aborted batches (shadow/outbox_relay.h) are never applied; with an
  // idempotent relay every message is committed and this changes nothing.
  config.emplace("isolation.level", "read_committed");
  if (a->options_.consumer_group) {
    // A member that dies (kill -9, host down) gives its partitions back after this, not after
    // the broker default (45 s): its region's lag grows meanwhile.
    config.emplace("session.timeout.ms", "6000");
    config.emplace("heartbeat.interval.ms", "1000");
  }
  // Never jump silently: a position outside the log (retention deleted changes not yet
  // applied) must be seen, so that what is missing is re-published from the outbox.
  config.emplace("auto.offset.reset", "error");
  CMO_ASSIGN_OR_RETURN(a->consumer_, base::KafkaConsumer::Create(config));
  CMO_RETURN_IF_ERROR(a->RefreshTopics());
  return a;
}

absl::Status Applier::RefreshTopics() {
  last_refresh_ = clock_.Now();
  auto listed = consumer_->ListTopics("cmo.changes.", 2000);
  if (!listed.ok()) return absl::OkStatus();  // broker unreachable: keep what we have
  if (options_.domains) {
    const absl::Time asked = clock_.Now();
    absl::StatusOr<std::vector<std::string>> domains = options_.domains();
    if (!domains.ok()) return absl::OkStatus();  // primary unreachable: keep what we have
    // A primary with no domain has no change yet, so the replica has them all. The relay has
    // no topic to send heartbeats on, so without this an idle new deployment would look
    // behind since its start and trip the first op ramped before anything is written.
    if (domains->empty() && (!metrics_.caught_up_to || *metrics_.caught_up_to < asked)) {
      metrics_.caught_up_to = asked;
    }
    std::map<std::string, int> ours;
    for (const std::string& d : *domains) {
      auto it = listed->find(ChangeTopic(d));
      if (it != listed->end()) ours.insert(*it);
    }
    *listed = std::move(ours);
  }
  if (*listed == topics_) return absl::OkStatus();
  if (options_.consumer_group) {
    // The group decides which partitions are ours; PositionsFor says where to read them.
    std::vector<std::string> names;
    for (const auto& [topic, n] : *listed) names.push_back(topic);
    CMO_RETURN_IF_ERROR(
        consumer_->Subscribe(names, [this](const std::vector<base::TopicPartitionOffset>& given) {
          return PositionsFor(given);
        }));
  } else {
    std::vector<base::TopicPartitionOffset> all;
    for (const auto& [topic, partitions] : *listed) {
      for (int32_t p = 0; p < partitions; ++p) all.push_back({topic, p, base::kOffsetBeginning});
    }
    CMO_ASSIGN_OR_RETURN(std::vector<base::TopicPartitionOffset> assignment, PositionsFor(all));
    CMO_RETURN_IF_ERROR(consumer_->Assign(assignment));
  }
  CMO_RETURN_IF_ERROR(replica_.SetTopicPartitions(*listed));
  topics_ = *listed;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<base::TopicPartitionOffset>> Applier::PositionsFor(
    const std::vector<base::TopicPartitionOffset>& partitions) {
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
    auto marks = consumer_->Watermarks(given.topic, given.partition, 2000);
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

absl::Status Applier::Reassign() {
  // Nothing of this batch was applied; the positions in the replica are still the truth.
  // Reading each partition again from there checks it against its log (PositionsFor).
  CMO_ASSIGN_OR_RETURN(std::vector<base::TopicPartitionOffset> current, consumer_->Assignment());
  CMO_ASSIGN_OR_RETURN(std::vector<base::TopicPartitionOffset> positions, PositionsFor(current));
  return consumer_->Assign(positions);
}

void Applier::RecordLag(absl::Time now, absl::Duration lag) {
  const double seconds = absl::ToDoubleSeconds(lag);
  for (size_t b = 0; b < kLagBucketsSeconds.size(); ++b) {
    if (seconds <= kLagBucketsSeconds[b]) ++metrics_.lag_buckets[b];
  }
  ++metrics_.lag_count;
  metrics_.lag_sum_seconds += seconds;
  lag_ms_.emplace_back(now, absl::ToDoubleMilliseconds(lag));
  while (lag_ms_.size() > static_cast<size_t>(options_.lag_samples)) lag_ms_.pop_front();
}

void Applier::PruneLag(absl::Time now) {
  while (!lag_ms_.empty() && lag_ms_.front().first < now - options_.lag_window) {
    lag_ms_.pop_front();
  }
}

absl::Duration LingerFor(const ApplierOptions& options, int polled) {
  return polled >= options.batch / 4 ? options.linger_when_behind : options.linger;
}

absl::Status Applier::Step(int timeout_ms) {
  if (clock_.Now() - last_refresh_ >= options_.topic_refresh) CMO_RETURN_IF_ERROR(RefreshTopics());
  if (topics_.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<base::KafkaMessage>> polled =
      consumer_->Poll(options_.batch, timeout_ms);
  if (absl::IsOutOfRange(polled.status())) return Reassign();
  CMO_RETURN_IF_ERROR(polled.status());
  std::vector<base::KafkaMessage> messages = *std::move(polled);
  if (messages.empty()) return absl::OkStatus();
  // Linger to fill the batch: every apply is one transaction (one fsync, one write of each page
  // it touches), so many small batches would cap throughput. A few ms is small next to the lag
  // budget; an applier that is behind waits longer, for a batch that shares more pages.
  const absl::Time linger_until =
      clock_.Now() + LingerFor(options_, static_cast<int>(messages.size()));
  while (static_cast<int>(messages.size()) < options_.batch && clock_.Now() < linger_until) {
    absl::StatusOr<std::vector<base::KafkaMessage>> more =
        consumer_->Poll(options_.batch - static_cast<int>(messages.size()), 1);
    if (absl::IsOutOfRange(more.status())) return Reassign();
    CMO_RETURN_IF_ERROR(more.status());
    if (more->empty()) continue;
    for (base::KafkaMessage& m : *more) messages.push_back(std::move(m));
  }
  std::vector<store::Row> rows;
  // Per row: first delivered now (its LSN above what its partition had applied before this
  // batch). Only those are lag; a redelivery (the relay re-publishing after a lost log,
  // at-least-once delivery) carries a commit time from long ago. Nor are the rows of a
  // partition awaiting re-publication: what came before them may be missing.
  std::vector<char> first_delivery;
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
      rows.push_back(std::move(e->row));
    }
  }
  if (options_.simulated_delay > absl::ZeroDuration() && !rows.empty()) {
    // Waits for the oldest change only: what arrives meanwhile is the next batch, already
    // delayed, so throughput is not capped by the delay (a long link, not a narrow one).
    absl::Time oldest = rows.front().commit_time;
    for (const store::Row& r : rows) oldest = std::min(oldest, r.commit_time);
    const absl::Duration wait = oldest + options_.simulated_delay - clock_.Now();
    if (wait > absl::ZeroDuration()) clock_.SleepFor(wait);
  }
  std::vector<store::PartitionProgress> positions;
  for (const auto& [tp, part] : partitions) positions.push_back(part.progress);
  CMO_ASSIGN_OR_RETURN(store::ApplyStats stats, replica_.Apply(rows, positions));
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
    RecordLag(now, now - std::max(rows[i].commit_time, started_));
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
  if (!lag_ms_.empty()) {
    // Three selections instead of a sort: this runs on every status read (the control loop
    // reads it ten times a second), over up to lag_samples values. Ascending quantiles, so
    // each selection only searches what lies above the one before.
    std::vector<double> v;
    v.reserve(lag_ms_.size());
    for (const auto& [at, ms] : lag_ms_) v.push_back(ms);
    auto at = [&, from = v.begin()](double q) mutable {
      auto nth = v.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(v.size() - 1));
      std::nth_element(from, nth, v.end());
      from = nth;
      return *nth;
    };
    metrics_.lag_p50_ms = at(0.50);
    metrics_.lag_p95_ms = at(0.95);
    metrics_.lag_p99_ms = at(0.99);
  }
  return metrics_;
}

}  // namespace cmo::shadow
