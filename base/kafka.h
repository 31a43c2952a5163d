// Thin RAII wrappers over librdkafka's C API: a producer with delivery reports, a consumer
// with explicit partition assignment, and the embedded mock cluster (rdkafka_mock.h) that
// `kafka.brokers: embedded` and every fault test run on. No librdkafka type leaks out.
#ifndef CMO_BASE_KAFKA_H_
#define CMO_BASE_KAFKA_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct rd_kafka_s;
struct rd_kafka_topic_partition_list_s;

namespace cmo::base {

using KafkaConfig = std::map<std::string, std::string>;

// A librdkafka setting as written in a config: `file:PATH` stands for the contents of PATH
// (trailing newlines dropped), so that passwords live in files an operator protects, never in
// the config itself; anything else is the value. kInvalidArgument names the setting and the
// file, never the value.
absl::StatusOr<std::string> ResolveKafkaProperty(std::string_view key, std::string_view value);

// librdkafka's in-process Kafka protocol mock. It listens on loopback, so other processes
// (kcat, appliers) can use it. Thread-safe for the fault-injection calls.
class KafkaMockCluster {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaMockCluster>> Start(int brokers);
  ~KafkaMockCluster();

  const std::string& bootstrap_servers() const { return bootstrap_; }
  absl::Status CreateTopic(const std::string& topic, int partitions, int replication);
  void SetBrokerDown(int32_t broker_id);
  void SetBrokerUp(int32_t broker_id);
  // The next `count` Produce requests fail with a retriable error (before being stored).
  void FailNextProduceRequests(int count);
  // Broker `broker_id` answers the next `count` Produce requests late (after storing them).
  void DelayProduceAcks(int32_t broker_id, int count, int delay_ms);

 private:
  struct Impl;
  explicit KafkaMockCluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
};

struct DeliveryReport {
  uint64_t opaque = 0;  // what the caller passed to Produce
  int32_t partition = -1;
  int64_t offset = -1;
  absl::Status status;
};

// Not thread-safe except Produce/Poll from one thread; delivery reports are delivered from
// Poll() on the calling thread.
class KafkaProducer {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(
      const KafkaConfig& config, std::function<void(const DeliveryReport&)> on_delivery);
  ~KafkaProducer();

  // Queues a message; partition -1 lets the partitioner pick by key. kUnavailable when the
  // local queue is full (poll and retry) or the topic is not in this producer's metadata yet.
  absl::Status Produce(const std::string& topic, int32_t partition, std::string_view key,
                       std::string_view value, uint64_t opaque);
  // Serves delivery reports; returns how many were served.
  int Poll(int timeout_ms);
  absl::Status Flush(int timeout_ms);
  // Partition count of `topic` (from cluster metadata).
  absl::StatusOr<int> PartitionCount(const std::string& topic, int timeout_ms);
  int OutQueueLength();

  // Transactions, for a producer made with `transactional.id`: what is produced between Begin
  // and a successful Commit becomes visible to read_committed consumers at once, or (aborted)
  // never. Delivery reports of an aborted transaction may say "delivered": only Commit's OK
  // means committed. Errors say what to do next: kAborted — abort, then produce it all again;
  // kUnavailable — call the same again (a Commit that timed out is still pending);
  // kFailedPrecondition — fatal (fenced by a newer producer with the same transactional.id):
  // make a new producer.
  absl::Status InitTransactions(int timeout_ms);
  absl::Status BeginTransaction();
  absl::Status CommitTransaction(int timeout_ms);
  absl::Status AbortTransaction(int timeout_ms);

 private:
  struct Impl;
  explicit KafkaProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct KafkaMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

struct TopicPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;  // the next offset to read; kOffsetBeginning for the start of the log
};

inline constexpr int64_t kOffsetBeginning = -2;

// Not thread-safe: one consumer per thread.
class KafkaConsumer {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaConsumer>> Create(const KafkaConfig& config);
  ~KafkaConsumer();

  // Reads exactly these partitions from these offsets (no group rebalancing: the applier owns
  // its positions, which live in the replica store). Replaces the current assignment, also one
  // the group gave.
  absl::Status Assign(const std::vector<TopicPartitionOffset>& partitions);
  // Where to read each partition the group just gave this member from (offsets ignored on
  // input); called from Poll() on the polling thread.
  using PositionsFor = std::function<absl::StatusOr<std::vector<TopicPartitionOffset>>(
      const std::vector<TopicPartitionOffset>& given)>;
  // Joins the consumer group (`group.id`) for `topics`: the group spreads their partitions over
  // its members and moves them when members join or leave. Positions still come from their
  // owner (`positions`), never from the group's committed offsets. Called again, replaces the
  // subscription. When `positions` fails, the next Poll() returns its error.
  absl::Status Subscribe(const std::vector<std::string>& topics, PositionsFor positions);
  // The partitions this consumer reads now (assigned, or given by the group).
  absl::StatusOr<std::vector<TopicPartitionOffset>> Assignment();
  // Up to `max` messages, waiting at most `timeout_ms` for the first. Partition EOF and
  // transient errors are skipped; a fatal consumer error is returned. kOutOfRange when a
  // position is outside its partition's log and the consumer has auto.offset.reset=error
  // (what was polled in this call is dropped: it is read again from the kept positions).
  absl::StatusOr<std::vector<KafkaMessage>> Poll(int max, int timeout_ms);
  absl::StatusOr<int> PartitionCount(const std::string& topic, int timeout_ms);
  // Topics whose names start with `prefix`, with their partition counts.
  absl::StatusOr<std::map<std::string, int>> ListTopics(std::string_view prefix, int timeout_ms);
  // The offsets of the oldest message still in the log and the next one to be written.
  absl::StatusOr<std::pair<int64_t, int64_t>> Watermarks(const std::string& topic,
                                                         int32_t partition, int timeout_ms);

 private:
  struct Impl;
  explicit KafkaConsumer(std::unique_ptr<Impl> impl);
  // librdkafka's rebalance callback (types declared below, kept out of this header's users).
  static void OnRebalance(rd_kafka_s* rk, int err, rd_kafka_topic_partition_list_s* parts,
                          void* opaque);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmo::base

#endif  // CMO_BASE_KAFKA_H_
