#include "orchestrator/service/kafka_topics.h"

#include <unistd.h>

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"
#include "shadow/change_event.h"
#include "shadow/converged.h"
#include "shadow/flag_source.h"
#include "shadow/hot_items.h"
#include "shadow/telemetry.h"

namespace cmo::orchestrator {
namespace {

constexpr int kAdminTimeoutMs = 15000;

std::string ConfigOf(const base::TopicSettings& t, const std::string& key) {
  auto it = t.configs.find(key);
  return it == t.configs.end() ? "" : it->second;
}

std::string AlterConfigCommand(const std::string& bootstrap, const std::string& topic,
                               const std::string& setting) {
  return base::StrCat("kafka-configs.sh --bootstrap-server ", bootstrap,
                      " --alter --entity-type topics --entity-name ", topic, " --add-config ",
                      setting);
}

}  // namespace

absl::StatusOr<base::TopicSettings> WantedTopic(const std::string& topic, const TopicPolicy& policy,
                                                int replication) {
  base::TopicSettings t;
  t.name = topic;
  t.replication_factor = replication;
  t.configs["min.insync.replicas"] = replication >= 3 ? "2" : "1";
  if (topic == shadow::kFlagsTopic) {
    t.partitions = 1;
    t.configs["cleanup.policy"] = "compact";
  } else if (topic == shadow::kConvergedTopic || topic == shadow::kAmplifiedTopic) {
    t.partitions = 1;  // clients follow partition 0; only the newest mark matters
    t.configs["cleanup.policy"] = "delete";
    t.configs["retention.ms"] =
        std::to_string(absl::ToInt64Milliseconds(policy.telemetry_retention));
  } else if (topic == shadow::kTelemetryTopic) {
    t.partitions = policy.partitions;
    t.configs["cleanup.policy"] = "delete";
    t.configs["retention.ms"] =
        std::to_string(absl::ToInt64Milliseconds(policy.telemetry_retention));
  } else if ((topic.starts_with(shadow::ChangeTopic("")) && topic != shadow::ChangeTopic("")) ||
             (topic.starts_with(shadow::kPriorityTopicPrefix) &&
              topic.size() > shadow::kPriorityTopicPrefix.size())) {
    t.partitions = policy.partitions;
    t.configs["cleanup.policy"] = "delete";
  } else {
    return absl::InvalidArgumentError(base::StrCat("\"", topic, "\" is not a topic of cmo's"));
  }
  return t;
}

TopicProblems CheckTopic(const base::TopicSettings& want, const base::TopicSettings& have,
                         const std::string& bootstrap) {
  TopicProblems p;
  const std::string& name = want.name;
  const std::string policy = ConfigOf(have, "cleanup.policy");
  const std::string wanted_policy = ConfigOf(want, "cleanup.policy");
  if (policy != wanted_policy) {
    const char* why = wanted_policy == "compact"
                          ? "the newest flag snapshot must never age out"
                          : "compaction could drop a change a region has not applied yet";
    p.errors.push_back(base::StrCat(
        "Kafka topic ", name, " has cleanup.policy=", policy.empty() ? "(unknown)" : policy,
        "; cmo needs ", wanted_policy, " (", why, "). Change it with: ",
        AlterConfigCommand(bootstrap, name, "cleanup.policy=" + wanted_policy)));
  }
  if ((name == shadow::kFlagsTopic || name == shadow::kConvergedTopic ||
       name == shadow::kAmplifiedTopic) &&
      have.partitions != 1) {
    p.errors.push_back(base::StrCat(
        "Kafka topic ", name, " has ", have.partitions,
        " partitions; cmo needs exactly 1 (clients read the newest snapshot of partition 0). "
        "Delete it while cmo serve is stopped; cmo serve creates it again with 1"));
  } else if ((name.starts_with(shadow::ChangeTopic("")) ||
              name.starts_with(shadow::kPriorityTopicPrefix)) &&
             have.partitions < want.partitions) {
    p.errors.push_back(base::StrCat(
        "Kafka topic ", name, " has ", have.partitions,
        " partitions, fewer than kafka.partitions (", want.partitions,
        "). Set kafka.partitions: ", have.partitions,
        " in the config to use it as it is, or delete it while cmo serve is stopped and let "
        "cmo serve create it (adding partitions to a live change topic moves keys between "
        "partitions and breaks their order)"));
  }
  if (have.replication_factor < want.replication_factor) {
    p.warnings.push_back(base::StrCat("Kafka topic ", name, " has replication factor ",
                                      have.replication_factor, ", below ", want.replication_factor,
                                      ": losing one broker can lose or stall its messages"));
  }
  return p;
}

absl::StatusOr<std::unique_ptr<KafkaTopics>> KafkaTopics::Connect(
    const base::KafkaConfig& config, const TopicPolicy& policy,
    std::function<void(const std::string&)> warn) {
  CMO_ASSIGN_OR_RETURN(std::unique_ptr<base::KafkaAdmin> admin, base::KafkaAdmin::Create(config));
  auto it = config.find("bootstrap.servers");
  return std::unique_ptr<KafkaTopics>(new KafkaTopics(
      std::move(admin), policy, it == config.end() ? "" : it->second, std::move(warn)));
}

absl::StatusOr<int> KafkaTopics::Ensure(const std::string& topic) {
  base::MutexLock lock(&mu_);
  if (auto it = ensured_.find(topic); it != ensured_.end()) return it->second;
  if (replication_ == 0) {
    if (policy_.replication_factor > 0) {
      replication_ = policy_.replication_factor;
    } else {
      CMO_ASSIGN_OR_RETURN(int brokers, admin_->BrokerCount(kAdminTimeoutMs));
      replication_ = std::clamp(brokers, 1, 3);
    }
  }
  CMO_ASSIGN_OR_RETURN(base::TopicSettings want, WantedTopic(topic, policy_, replication_));
  absl::StatusOr<base::TopicSettings> have = admin_->DescribeTopic(topic, kAdminTimeoutMs);
  if (absl::IsNotFound(have.status())) {
    const absl::Status created = admin_->CreateTopic(want, kAdminTimeoutMs);
    if (absl::IsInvalidArgument(created)) {
      return absl::FailedPreconditionError(base::StrCat(
          created.message(), " (wanted ", want.partitions, " partitions, replication factor ",
          want.replication_factor, "; set kafka.replication_factor / kafka.partitions)"));
    }
    if (created.ok()) {
      // Made as wanted; its metadata may take a moment to reach every broker, so no read-back.
      ensured_[topic] = want.partitions;
      return want.partitions;
    }
    if (!absl::IsAlreadyExists(created)) return created;
    // Another process won the race: checked like any existing topic (it may use other settings).
    // Its creation may still be on its way to the broker we ask (seen when a serve killed just
    // after creating it was restarted at once): give the metadata a few seconds.
    have = admin_->DescribeTopic(topic, kAdminTimeoutMs);
    for (int i = 0; i < 25 && absl::IsNotFound(have.status()); ++i) {
      ::usleep(200'000);
      have = admin_->DescribeTopic(topic, kAdminTimeoutMs);
    }
    if (absl::IsNotFound(have.status())) {
      return absl::UnavailableError(base::StrCat(
          "Kafka says topic ", topic, " exists but lists no metadata for it yet; retrying"));
    }
  }
  CMO_RETURN_IF_ERROR(have.status());
  TopicProblems problems = CheckTopic(want, *have, bootstrap_);
  if (!problems.errors.empty()) {
    return absl::FailedPreconditionError(base::StrJoin(problems.errors, "; "));
  }
  for (const std::string& w : problems.warnings) {
    if (warn_) warn_(w);
  }
  ensured_[topic] = have->partitions;
  return have->partitions;
}

}  // namespace cmo::orchestrator
