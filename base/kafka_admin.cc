#include "base/kafka_admin.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <functional>

#include "base/internal/rdkafka_util.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::base {

using internal::KafkaError;

struct KafkaAdmin::Impl {
  rd_kafka_t* rk = nullptr;
  rd_kafka_queue_t* queue = nullptr;  // admin results arrive here
  // The last authentication or TLS failure librdkafka reported (served by rd_kafka_poll): a
  // request that failed for it says so, instead of "broker transport failure".
  std::string credentials_error;
  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL) {
      static_cast<Impl*>(opaque)->credentials_error = reason;
    }
  }
  ~Impl() {
    if (queue != nullptr) rd_kafka_queue_destroy(queue);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

namespace {

// Owns one admin result event.
struct Event {
  rd_kafka_event_t* ev = nullptr;
  ~Event() {
    if (ev != nullptr) rd_kafka_event_destroy(ev);
  }
};

// One admin request: `issue` sends it with the options (request and operation timeout) onto
// `queue`; then waits for its result event.
absl::Status Request(rd_kafka_t* rk, rd_kafka_queue_t* queue, rd_kafka_admin_op_t op,
                     int timeout_ms, std::string_view what,
                     const std::function<void(rd_kafka_AdminOptions_t*)>& issue, Event& out) {
  rd_kafka_AdminOptions_t* o = rd_kafka_AdminOptions_new(rk, op);
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, err, sizeof(err));
  // Create/delete wait on the broker until the change took effect (leaders elected).
  rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, err, sizeof(err));
  issue(o);
  rd_kafka_AdminOptions_destroy(o);
  // The request times out on its own after timeout_ms; a little more here so its own error,
  // not a silent poll timeout, is what the caller sees.
  out.ev = rd_kafka_queue_poll(queue, timeout_ms + 2000);
  if (out.ev == nullptr) return absl::UnavailableError(StrCat(what, ": no answer from Kafka"));
  if (rd_kafka_event_error(out.ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(rd_kafka_event_error(out.ev), what, rd_kafka_event_error_string(out.ev));
  }
  return absl::OkStatus();
}

// The first failed topic of a create/delete result, if any.
absl::Status TopicResults(const rd_kafka_topic_result_t** results, size_t n,
                          std::string_view what) {
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* detail = rd_kafka_topic_result_error_string(results[i]);
      return KafkaError(e, what, detail != nullptr ? detail : rd_kafka_err2str(e));
    }
  }
  return absl::OkStatus();
}

}  // namespace

KafkaAdmin::KafkaAdmin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaAdmin::~KafkaAdmin() = default;

absl::StatusOr<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Create(const KafkaConfig& given) {
  KafkaConfig config = given;
  // A metadata request must never create the topic it asks about with the broker's defaults.
  config["allow.auto.create.topics"] = "false";
  auto impl = std::make_unique<Impl>();
  CMO_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, internal::MakeConf(config));
  rd_kafka_conf_set_error_cb(conf, &Impl::OnError);
  rd_kafka_conf_set_opaque(conf, impl.get());
  CMO_ASSIGN_OR_RETURN(impl->rk, internal::MakeClient(RD_KAFKA_PRODUCER, conf));
  impl->queue = rd_kafka_queue_new(impl->rk);
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(std::move(impl)));
}

absl::Status KafkaAdmin::CreateTopic(const TopicSettings& topic, int timeout_ms) {
  const std::string what = StrCat("create topic ", topic.name);
  char err[256];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.name.c_str(), topic.partitions,
                                                  topic.replication_factor, err, sizeof(err));
  if (nt == nullptr) return absl::InvalidArgumentError(StrCat(what, ": ", err));
  for (const auto& [k, v] : topic.configs) {
    rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  }
  Event ev;
  const absl::Status sent = Request(
      impl_->rk, impl_->queue, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms, what,
      [&](rd_kafka_AdminOptions_t* o) {
        rd_kafka_CreateTopics(impl_->rk, &nt, 1, o, impl_->queue);
      },
      ev);
  rd_kafka_NewTopic_destroy(nt);
  CMO_RETURN_IF_ERROR(sent);
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.ev), &n);
  return TopicResults(results, n, what);
}

absl::StatusOr<TopicSettings> KafkaAdmin::DescribeTopic(const std::string& topic, int timeout_ms) {
  TopicSettings out;
  out.name = topic;
  {
    // All topics, not just this one: asking for one by name is what lets a broker with
    // auto.create.topics.enable create it.
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(impl_->rk, 1, nullptr, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, StrCat("metadata of ", topic));
    bool found = false;
    absl::Status status;
    for (int i = 0; i < md->topic_cnt && !found; ++i) {
      const rd_kafka_metadata_topic_t& t = md->topics[i];
      if (topic != t.topic) continue;
      found = true;
      if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = KafkaError(t.err, StrCat("metadata of ", topic));
        break;
      }
      out.partitions = t.partition_cnt;
      out.replication_factor = t.partition_cnt > 0 ? t.partitions[0].replica_cnt : 0;
      for (int p = 1; p < t.partition_cnt; ++p) {
        out.replication_factor = std::min(out.replication_factor, t.partitions[p].replica_cnt);
      }
    }
    rd_kafka_metadata_destroy(md);
    CMO_RETURN_IF_ERROR(status);
    if (!found) return absl::NotFoundError(StrCat("topic ", topic, " does not exist"));
  }
  const std::string what = StrCat("describe configs of topic ", topic);
  rd_kafka_ConfigResource_t* res =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  Event ev;
  const absl::Status sent = Request(
      impl_->rk, impl_->queue, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms, what,
      [&](rd_kafka_AdminOptions_t* o) {
        rd_kafka_DescribeConfigs(impl_->rk, &res, 1, o, impl_->queue);
      },
      ev);
  rd_kafka_ConfigResource_destroy(res);
  CMO_RETURN_IF_ERROR(sent);
  size_t n = 0;
  const rd_kafka_ConfigResource_t** resources =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev.ev), &n);
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(resources[i]);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* detail = rd_kafka_ConfigResource_error_string(resources[i]);
      return KafkaError(e, what, detail != nullptr ? detail : rd_kafka_err2str(e));
    }
    size_t cnt = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(resources[i], &cnt);
    for (size_t j = 0; j < cnt; ++j) {
      const char* value = rd_kafka_ConfigEntry_value(entries[j]);
      // Sensitive entries come back without a value; nothing of cmo's is one.
      if (value != nullptr) out.configs[rd_kafka_ConfigEntry_name(entries[j])] = value;
    }
  }
  return out;
}

absl::Status KafkaAdmin::DeleteTopic(const std::string& topic, int timeout_ms) {
  const std::string what = StrCat("delete topic ", topic);
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(topic.c_str());
  Event ev;
  const absl::Status sent = Request(
      impl_->rk, impl_->queue, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms, what,
      [&](rd_kafka_AdminOptions_t* o) {
        rd_kafka_DeleteTopics(impl_->rk, &dt, 1, o, impl_->queue);
      },
      ev);
  rd_kafka_DeleteTopic_destroy(dt);
  CMO_RETURN_IF_ERROR(sent);
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.ev), &n);
  return TopicResults(results, n, what);
}

absl::Status KafkaAdmin::DeleteRecordsBefore(const std::string& topic, int32_t partition,
                                             int64_t offset, int timeout_ms) {
  const std::string what = StrCat("delete records of ", topic, "[", partition, "]");
  rd_kafka_topic_partition_list_t* before = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(before, topic.c_str(), partition)->offset =
      offset < 0 ? RD_KAFKA_OFFSET_END : offset;
  rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(before);
  rd_kafka_topic_partition_list_destroy(before);
  Event ev;
  const absl::Status sent = Request(
      impl_->rk, impl_->queue, RD_KAFKA_ADMIN_OP_DELETERECORDS, timeout_ms, what,
      [&](rd_kafka_AdminOptions_t* o) {
        rd_kafka_DeleteRecords(impl_->rk, &del, 1, o, impl_->queue);
      },
      ev);
  rd_kafka_DeleteRecords_destroy(del);
  CMO_RETURN_IF_ERROR(sent);
  const rd_kafka_topic_partition_list_t* result =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev.ev));
  for (int i = 0; result != nullptr && i < result->cnt; ++i) {
    if (result->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(result->elems[i].err, what);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> KafkaAdmin::BrokerCount(int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(impl_->rk, 0, nullptr, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_poll(impl_->rk, 0);  // serves OnError
    if (!impl_->credentials_error.empty()) {
      return absl::FailedPreconditionError(
          StrCat("the Kafka cluster refused cmo's credentials: ", impl_->credentials_error,
                 "; check kafka.properties (security.protocol, sasl.*, ssl.*) and the secret "
                 "files they name"));
    }
    return KafkaError(err, "cluster metadata");
  }
  const int n = md->broker_cnt;
  rd_kafka_metadata_destroy(md);
  return n;
}

}  // namespace cmo::base
