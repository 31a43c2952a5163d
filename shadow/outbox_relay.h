// Publishes the primary's outbox to Kafka: every committed change, in LSN order, keyed by data
// key, with an idempotent producer (acks=all); marks changes published only once Kafka
// acknowledged them; sends watermark heartbeats to every partition; and trims the outbox only
// below what every region has applied, so a lost change log is repaired by re-publishing.
// An applier that finds its log lost files a request in the primary; the relay reads it,
// rewinds to what every region applied, and its heartbeats then say which request they answer
// and claim only what was sent again since (shadow/applier.h explains why both matter).
//
//   outbox ──read (LSN order, ≤ max_in_flight)──► produce ──ack──► published_through
//      ▲                                                               │ heartbeat(lsn) to all
//      └──── trim ≤ min(applied watermark of every region) ◄───────────┘ partitions
#ifndef CMO_SHADOW_OUTBOX_RELAY_H_
#define CMO_SHADOW_OUTBOX_RELAY_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/kafka.h"
#include "base/message_auth.h"
#include "store/primary_store.h"

namespace cmo::shadow {

struct RelayOptions {
  int batch = 2000;            // outbox rows read per step
  int max_in_flight = 50'000;  // unacknowledged changes: the relay's backpressure bound
  // Heartbeats go out this often while the published LSN moves, and only every
  // idle_heartbeat_interval while it stands still: each one is a record batch in every
  // partition and a transaction in every applier, and Kafka keeps them all.
  absl::Duration heartbeat_interval = absl::Milliseconds(50);
  absl::Duration idle_heartbeat_interval = absl::Seconds(10);
  absl::Duration trim_interval = absl::Seconds(1);
  absl::Duration persist_interval = absl::Milliseconds(250);  // of published_through
  // How often the primary is asked for re-publication requests from appliers.
  absl::Duration request_check_interval = absl::Milliseconds(100);
  // Signs heartbeats (base/message_auth.h), so that appliers can refuse forged ones: a
  // heartbeat moves a region's watermark, which read-your-writes trusts.
  std::shared_ptr<const base::KeyRing> keys = nullptr;
  // Non-empty: publish in Kafka transactions under this transactional.id (one per deployment,
  // the same for every relay of it: a relay that starts fences the one before). Each step's
  // changes and heartbeats commit together; appliers read committed only, so a batch a crashed
  // or aborted relay left half-sent is never applied. Empty: the idempotent producer alone.
  std::string transactional_id = {};
  // Sends the changes of priority writes (store::OutboxEntry::priority) to their domain's
  // priority topic (PriorityTopic), created before the change topic, and heartbeats to both.
  // Off: every change goes to the change topic (priority writes replicate as bulk).
  bool priority_channel = false;
};

struct RelayMetrics {
  int64_t last_lsn = 0;
  int64_t published_through = 0;
  int64_t outbox_lag = 0;  // committed but not yet acknowledged by Kafka
  int64_t in_flight = 0;
  int64_t published = 0;  // acknowledged changes since start (re-publications included)
  int64_t delivery_failures = 0;
  int64_t republications = 0;
  int64_t transactions = 0;  // committed (transactional relay)
  int64_t aborted_transactions = 0;
};

// The producer settings of every relay of changes: idempotent, fully acknowledged, retried
// forever in order, so a broker outage delays changes, never reorders or drops them; quick to
// reconnect (the mock keeps leadership on a down broker, so recovery is paced by the reconnect
// backoff). What `kafka` sets itself wins.
base::KafkaConfig DataPathProducerConfig(base::KafkaConfig kafka);

// Not thread-safe: Step() from one thread (it owns the producer's delivery callbacks).
class OutboxRelay {
 public:
  // Returns the partition count of a change topic, creating the topic if needed.
  using EnsureTopic = std::function<absl::StatusOr<int>(const std::string& topic)>;
  // The lowest LSN applied by every region (min of their watermarks), given the change-topic
  // partitions the relay publishes to (topic -> partition count).
  using MinApplied =
      std::function<absl::StatusOr<int64_t>(const std::map<std::string, int>& partitions)>;

  static absl::StatusOr<std::unique_ptr<OutboxRelay>> Create(
      store::PrimaryStore& primary, const base::KafkaConfig& kafka, EnsureTopic ensure_topic,
      MinApplied min_applied, const base::Clock& clock, RelayOptions options = {});

  // Publishes what it can, serves acknowledgements for up to `timeout_ms`, persists progress,
  // sends heartbeats and trims. Must be idempotent across crashes: a change may be published
  // twice, never lost.
  absl::Status Step(int timeout_ms);

  // Waits until every queued message is acknowledged (graceful shutdown).
  absl::Status Flush(int timeout_ms);

  RelayMetrics metrics() const { return metrics_; }

 private:
  OutboxRelay(store::PrimaryStore& primary, EnsureTopic ensure_topic, MinApplied min_applied,
              const base::Clock& clock, RelayOptions options);
  void OnDelivery(const base::DeliveryReport& report);
  absl::StatusOr<int> Partitions(const std::string& topic);
  absl::Status Rewind();
  // Reads the primary's re-publication requests when due; a new one makes the next step rewind.
  absl::Status CheckRequests(absl::Time now);
  bool transactional() const { return !options_.transactional_id.empty(); }
  // Produces, in the open transaction (begun here if none is) when transactional.
  absl::Status Send(const std::string& topic, int32_t partition, std::string_view key,
                    std::string_view value, uint64_t opaque);
  // A fatal transactional error (kFailedPrecondition), said the way an operator acts on it.
  absl::Status Fatal(const absl::Status& s) const;
  // Commits the open transaction, aborting and rewinding if Kafka says it must be.
  absl::Status Commit(int timeout_ms);
  // Acknowledged (and committed) prefix of what is in flight -> published_through_.
  void AdvancePublished();

  store::PrimaryStore& primary_;
  std::unique_ptr<base::KafkaProducer> producer_;
  EnsureTopic ensure_topic_;
  MinApplied min_applied_;
  const base::Clock& clock_;
  RelayOptions options_;

  std::map<std::string, int> partitions_;  // known change topics
  std::map<int64_t, bool> in_flight_;      // lsn -> acknowledged
  int64_t last_sent_ = 0;
  int64_t published_through_ = 0;
  int64_t persisted_through_ = 0;
  absl::Time last_persist_ = absl::InfinitePast();
  // Since the last rewind: every change up to here was sent again and acknowledged. What a
  // heartbeat claims: a change re-sent after it would come later in its partition, so a
  // heartbeat claiming published_through before the re-sent changes caught up would move an
  // applier reading the re-publication past changes it has not yet seen.
  int64_t resent_through_ = 0;
  uint64_t rewinds_ = 0;
  int64_t heartbeat_lsn_ = -1;
  // Re-publication requests (store::PrimaryStore::RequestRepublish): the latest read from the
  // primary, and the latest a rewind answered (what heartbeats carry).
  int64_t requested_ = 0;
  int64_t answered_ = 0;
  absl::Time last_request_check_ = absl::InfinitePast();
  bool rewind_ = false;  // a delivery failed or a request came: send again from min applied
  bool in_transaction_ = false;
  bool committing_ = false;  // a commit timed out and is pending
  absl::Time last_heartbeat_ = absl::InfinitePast();
  absl::Time last_trim_ = absl::InfinitePast();
  RelayMetrics metrics_;
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_OUTBOX_RELAY_H_
