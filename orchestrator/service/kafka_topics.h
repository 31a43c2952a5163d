// cmo's topics on a real Kafka cluster: what each must look like, created with the admin API
// when missing and checked when present, so that cmo never depends on broker auto-creation
// (which would give broker defaults: one partition, `delete` on the flags topic) and refuses
// a topic set up in a way that loses data.
//
//   cmo.changes.<domain>  cleanup.policy=delete, kafka.partitions partitions (or more), the
//                         relay's log; compaction could drop a change a region has not applied
//   cmo.flags             cleanup.policy=compact, exactly 1 partition: clients read the newest
//                         snapshot, which must never age out
//   cmo.telemetry         cleanup.policy=delete, retention kafka.telemetry_retention: windows
//                         are read within seconds and worthless after
//   cmo.converged         cleanup.policy=delete, exactly 1 partition, the same retention: the
//                         LSN applied in every region, followed by clients from its newest
//   cmo.amplified         the same: items amplification guards made hot, announced by clients
// All are created with the configured replication factor (default: min(3, brokers)) and
// min.insync.replicas 2 when that is 3 or more.
#ifndef CMO_ORCHESTRATOR_SERVICE_KAFKA_TOPICS_H_
#define CMO_ORCHESTRATOR_SERVICE_KAFKA_TOPICS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/kafka.h"
#include "base/kafka_admin.h"
#include "base/mutex.h"

namespace cmo::orchestrator {

struct TopicPolicy {
  int partitions = 4;          // change and telemetry topics
  int replication_factor = 0;  // 0 = min(3, brokers in the cluster)
  absl::Duration telemetry_retention = absl::Hours(1);
};

// The settings cmo creates `topic` with; kInvalidArgument for a name that is not one of cmo's.
absl::StatusOr<base::TopicSettings> WantedTopic(const std::string& topic, const TopicPolicy& policy,
                                                int replication);

struct TopicProblems {
  std::vector<std::string> errors;    // cmo must not run on this topic as it is
  std::vector<std::string> warnings;  // works, but less safely than configured
};

// What is wrong with an existing topic `have` for the role `want` describes; each message says
// what to change. `bootstrap` goes into the suggested commands.
TopicProblems CheckTopic(const base::TopicSettings& want, const base::TopicSettings& have,
                         const std::string& bootstrap);

// Creates and checks cmo's topics on one cluster. Thread-safe (one admin request at a time).
class KafkaTopics {
 public:
  // `warn` receives each warning once per topic (e.g. the server's log).
  static absl::StatusOr<std::unique_ptr<KafkaTopics>> Connect(
      const base::KafkaConfig& config, const TopicPolicy& policy,
      std::function<void(const std::string&)> warn);

  // Creates `topic` when it is missing (another process creating it first is fine), else
  // checks it: kFailedPrecondition naming what to change when it cannot be used. Returns its
  // partition count. kUnavailable when the cluster does not answer.
  absl::StatusOr<int> Ensure(const std::string& topic);

 private:
  KafkaTopics(std::unique_ptr<base::KafkaAdmin> admin, const TopicPolicy& policy,
              std::string bootstrap, std::function<void(const std::string&)> warn)
      : admin_(std::move(admin)),
        policy_(policy),
        bootstrap_(std::move(bootstrap)),
        warn_(std::move(warn)) {}

  base::Mutex mu_;
  std::unique_ptr<base::KafkaAdmin> admin_ ABSL_GUARDED_BY(mu_);
  const TopicPolicy policy_;
  const std::string bootstrap_;
  const std::function<void(const std::string&)> warn_;
  int replication_ ABSL_GUARDED_BY(mu_) = 0;  // resolved on first use
  // Topics already created or checked, with their partition counts: a relay rebuilt after an
  // outage asks again, and the answer does not change while cmo runs.
  std::map<std::string, int> ensured_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_KAFKA_TOPICS_H_
