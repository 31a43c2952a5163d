// Topic administration on a real Kafka cluster through librdkafka's admin API: create a topic
// with its settings, and read back what an existing one has, so that `cmo serve` creates its
// topics itself and refuses ones set up in a way that would lose changes. (The embedded mock
// cluster has no admin API; base/kafka.h's KafkaMockCluster::CreateTopic stands in there.)
#ifndef CMO_BASE_KAFKA_ADMIN_H_
#define CMO_BASE_KAFKA_ADMIN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/kafka.h"

namespace cmo::base {

// What a topic is, or should be: partitions, replication factor, topic-level configs
// (cleanup.policy, retention.ms, min.insync.replicas, ...).
struct TopicSettings {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;
  std::map<std::string, std::string> configs;
};

// One admin client. Not thread-safe: one caller at a time (the server's start and its relay's
// topic callback, which run on one thread each, each own one).
class KafkaAdmin {
 public:
  // `config` as for a producer (bootstrap.servers and any security settings).
  static absl::StatusOr<std::unique_ptr<KafkaAdmin>> Create(const KafkaConfig& config);
  ~KafkaAdmin();

  // kAlreadyExists when the topic is there already (whatever its settings); kInvalidArgument
  // when the cluster refuses the settings (e.g. a replication factor above its broker count).
  absl::Status CreateTopic(const TopicSettings& topic, int timeout_ms);
  // The topic as the cluster has it: partitions, the smallest replica count of its partitions,
  // and every topic config with its effective value. kNotFound when it does not exist.
  absl::StatusOr<TopicSettings> DescribeTopic(const std::string& topic, int timeout_ms);
  // Deletes the topic and its log (benchmarks clean up after themselves).
  absl::Status DeleteTopic(const std::string& topic, int timeout_ms);
  // Deletes the records of `topic`[`partition`] before `offset` (-1: all of them), as
  // retention would (fault tests; `kafka-delete-records.sh` does the same).
  absl::Status DeleteRecordsBefore(const std::string& topic, int32_t partition, int64_t offset,
                                   int timeout_ms);
  // How many brokers the cluster's metadata lists.
  absl::StatusOr<int> BrokerCount(int timeout_ms);

 private:
  struct Impl;
  explicit KafkaAdmin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmo::base

#endif  // CMO_BASE_KAFKA_ADMIN_H_
