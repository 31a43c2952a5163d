// Applies change events from Kafka to one region's replica store, from the change topics and,
// with a consumer of their own polled before every bulk batch, the priority topics
// (PriorityTopic): a bulk backlog never delays a priority change by more than one batch.
// Each change is applied each change only if newer
// than the row's version, positions and watermark progress in the same transaction. Detects a
// lost or truncated change log (stored position beyond the log) and asks for re-publication.
//
// A partition's watermark (the highest LSN seen there) means "every change of this partition
// up to here is applied", which holds because the log is in LSN order and read from where the
// applier stopped. A lost log breaks that: what is left after the gap (changes, and heartbeats
// claiming everything before them) says nothing of the changes the gap took. So a lost
// partition's watermark stands still, while its changes are still applied, until a heartbeat
// answering this applier's request (or a later one) arrives: the relay sent it after
// re-sending everything from below this watermark, so what it claims came before it.
#ifndef CMO_SHADOW_APPLIER_H_
#define CMO_SHADOW_APPLIER_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "base/kafka.h"
#include "base/message_auth.h"
#include "shadow/stalled_partitions.h"
#include "store/replica_store.h"

namespace cmo::shadow {

struct ApplierOptions {
  std::string region;
  // Changes per replica transaction when the applier is behind. Random keys of one batch share
  // B-tree pages, so a larger batch writes fewer pages per change: 10,000 was the best raw
  // SQLite batch in `cmo bench pipeline` (docs/BENCHMARKS.md).
  int batch = 10000;
  absl::Duration linger = absl::Milliseconds(5);  // to fill a batch once messages arrive
  // How long to fill a batch when the applier is behind (its first poll brought at least a
  // quarter of a batch): a full batch costs less per change than a partial one, and a
  // backlog's lag is far above this anyway. A caught-up applier lingers only `linger`.
  absl::Duration linger_when_behind = absl::Milliseconds(50);
  absl::Duration topic_refresh = absl::Seconds(1);
  // Group mode: a partition of a subscribed topic that stands still this long while others move
  // makes the applier rejoin its group (StalledPartitions); checked every stall_check.
  absl::Duration stall_after = absl::Seconds(30);
  absl::Duration stall_check = absl::Seconds(2);
  // Replication-lag percentiles are over the changes applied in the last `lag_window`, at most
  // `lag_samples` of them: an older measurement describes a state that is over (a restart must
  // not judge the present on the lag of a backlog drained minutes ago).
  int lag_samples = 20'000;
  absl::Duration lag_window = absl::Seconds(60);
  // Holds each batch until its oldest change is this old: a long inter-region link, for
  // demos and lag tests. Zero in production.
  absl::Duration simulated_delay = absl::ZeroDuration();
  // The same for bulk batches only, priority ones going on meanwhile: a bulk backlog seconds
  // deep, for demos, tests and `cmo bench tiers`. Zero in production.
  absl::Duration simulated_bulk_delay = absl::ZeroDuration();
  // When set, heartbeats must be signed with one of these keys (unsigned ones are refused).
  std::shared_ptr<const base::KeyRing> keys = nullptr;
  // The primary's last committed LSN. When set, an event with a higher LSN is refused: the relay
  // publishes only committed changes, so such an event is forged or corrupt, and storing it
  // would move the watermark past data that does not exist.
  std::function<absl::StatusOr<int64_t>()> lsn_ceiling = nullptr;
  // The deployment's domains (the primary's). When set, only their change topics are applied:
  // a real cluster may hold other deployments' cmo.changes.* topics, or leftovers of deleted
  // domains, whose changes must never reach this replica nor hold its watermark back.
  std::function<absl::StatusOr<std::vector<std::string>>()> domains = nullptr;
  // Share the region's partitions with the other appliers of the region through the Kafka
  // consumer group `cmo-applier-<region>` (real clusters: several appliers per region for
  // availability). Off: this applier reads every partition itself.
  bool consumer_group = false;
};

// Upper bounds (seconds) of the replication-lag histogram's buckets; +Inf is implied.
inline constexpr std::array<double, 13> kLagBucketsSeconds = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

struct ApplierMetrics {
  int64_t applied = 0;
  int64_t transactions = 0;  // replica transactions that applied changes: applied / this = batch
  int64_t stale = 0;         // duplicates and out-of-order older versions, ignored
  int64_t heartbeats = 0;
  int64_t undecodable = 0;  // messages that are not cmo change events, skipped
  int64_t log_resets = 0;   // times the stored position was past the log (log lost)
  int64_t rejoins = 0;      // group rejoins for a partition nobody read (StalledPartitions)
  int64_t refused = 0;      // forged or implausible events (unsigned heartbeat, LSN > primary's)
  // Partitions whose log was lost and whose watermark waits for the relay's re-publication.
  int64_t awaiting_republish = 0;
  int64_t watermark = 0;
  // apply time - commit time of the changes applied in the last `lag_window` (0 when none:
  // see lag_samples), counted from the applier's start at the earliest; changes delivered
  // again (already applied) are not lag.
  double lag_p50_ms = 0, lag_p95_ms = 0, lag_p99_ms = 0;
  int64_t lag_samples = 0;
  // The same, per channel: changes from the change topics (bulk) and the priority topics.
  double bulk_lag_p50_ms = 0, bulk_lag_p99_ms = 0;
  double priority_lag_p50_ms = 0, priority_lag_p99_ms = 0;
  int64_t priority_lag_samples = 0;
  int64_t priority_applied = 0;  // changes first delivered through the priority topics
  // The newest moment the replica is known to have caught up to: the commit time of the newest
  // change or the send time of the newest heartbeat applied. The relay sends a heartbeat even
  // when idle, so how far this falls behind the clock is the lag when nothing is written.
  std::optional<absl::Time> caught_up_to;
  // Every first delivery's lag since start, as a Prometheus histogram: the count at or below
  // each bound of kLagBucketsSeconds (cumulative), then all of them, and their sum.
  std::array<int64_t, kLagBucketsSeconds.size()> lag_buckets{};
  int64_t lag_count = 0;
  double lag_sum_seconds = 0;
};

// How long Step() waits to fill a batch whose first poll brought `polled` messages.
absl::Duration LingerFor(const ApplierOptions& options, int polled);

// Not thread-safe: Step() from one thread.
class Applier {
 public:
  // Called when the change log was found lost or truncated: files a request that the relay
  // re-publish (store::PrimaryStore::RequestRepublish) and returns its number. Without one,
  // nothing can answer, and lost partitions are trusted as they are read.
  using OnLogLoss = std::function<absl::StatusOr<int64_t>()>;

  static absl::StatusOr<std::unique_ptr<Applier>> Create(store::ReplicaStore& replica,
                                                         const base::KafkaConfig& kafka,
                                                         const base::Clock& clock,
                                                         ApplierOptions options,
                                                         OnLogLoss on_log_loss = nullptr);

  // Closes the consumers first: closing may serve a pending rebalance, whose callback reads
  // this applier's positions (PositionsFor), so everything it reads must still be alive.
  ~Applier();

  // Discovers new change topics when due, consumes up to a batch (waiting at most
  // `timeout_ms`) and applies it in one transaction.
  absl::Status Step(int timeout_ms);

  // min over every known partition of the highest LSN seen there (a read of the replica).
  absl::StatusOr<int64_t> Watermark();
  // Replica transactions this applier committed (changes, heartbeats or positions): while it
  // stands still, only another process sharing the replica can move the watermark.
  int64_t commits() const { return commits_; }
  ApplierMetrics metrics();

 private:
  Applier(store::ReplicaStore& replica, const base::Clock& clock, ApplierOptions options,
          OnLogLoss on_log_loss);
  // A consumer and the topics it reads: the bulk change topics, or the priority topics.
  struct Channel {
    bool priority = false;
    std::unique_ptr<base::KafkaConsumer> consumer = nullptr;  // priority: with its first topic
    std::map<std::string, int> topics = {};                   // assigned topics -> partitions
    StalledPartitions stalled{ApplierOptions().stall_after};  // group mode
  };
  absl::Status RefreshTopics();
  absl::Status AssignChannel(Channel& channel, const std::map<std::string, int>& topics);
  // Group mode: (re)subscribes `channel` to `topics`, which makes the group rebalance.
  absl::Status Subscribe(Channel& channel, const std::map<std::string, int>& topics);
  // Group mode: rejoins the group of a channel with a partition nobody reads.
  absl::Status RejoinIfStalled();
  absl::StatusOr<std::unique_ptr<base::KafkaConsumer>> NewConsumer(bool priority);
  // Polls `channel` (up to `timeout_ms` for the first message) and applies what came, with
  // `fast` (priority messages already polled) in the same transaction unless the bulk is held.
  absl::Status PollAndApply(Channel& channel, int timeout_ms,
                            std::vector<base::KafkaMessage> fast);
  // Applies messages of either channel (the topic says which) in one replica transaction.
  absl::Status Apply(std::vector<base::KafkaMessage> messages);
  // Applies priority batches until `until` (a bulk batch held by simulated_bulk_delay).
  absl::Status ServePriorityUntil(absl::Time until);
  // After a position fell outside its log: assign every partition again from the replica.
  absl::Status Reassign(Channel& channel);
  // Where to read each of `partitions` from: the replica's position, or the start of the log
  // when that position is outside it (counted in log_resets; on_log_loss is called).
  absl::StatusOr<std::vector<base::TopicPartitionOffset>> PositionsFor(
      base::KafkaConsumer& consumer, const std::vector<base::TopicPartitionOffset>& partitions);
  void RecordLag(absl::Time now, absl::Duration lag, bool priority);
  void PruneLag(absl::Time now);
  // Whether an event of `lsn` (`signed_ok`: a heartbeat's signature held) may be applied.
  absl::StatusOr<bool> Plausible(bool heartbeat, bool signed_ok, int64_t lsn);

  store::ReplicaStore& replica_;
  const base::Clock& clock_;
  ApplierOptions options_;
  OnLogLoss on_log_loss_;
  int64_t commits_ = 0;
  base::KafkaConfig kafka_;
  Channel bulk_;
  Channel priority_{.priority = true};
  std::map<std::string, int> topics_;  // every assigned topic (both channels) -> partitions
  absl::Time last_refresh_ = absl::InfinitePast();
  absl::Time last_stall_check_ = absl::InfinitePast();
  struct LagSample {
    absl::Time at;  // applied at
    double ms;
    bool priority;
  };
  std::deque<LagSample> lag_ms_;  // oldest first
  absl::Time started_;            // lag counts from here at the earliest
  // Per partition: the highest LSN applied (from the replica at assignment, then as applied).
  // A change at or below it is a redelivery, whose commit time says nothing about lag now.
  std::map<std::pair<std::string, int32_t>, int64_t> applied_lsn_;
  // Per partition: the re-publication request its watermark waits for (absent or 0: none).
  std::map<std::pair<std::string, int32_t>, int64_t> awaiting_;
  ApplierMetrics metrics_;
  int64_t lsn_ceiling_ = 0;  // the primary's last LSN when last asked
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_APPLIER_H_
