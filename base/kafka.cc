#include "base/kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <fstream>
#include <iterator>
#include <utility>

#include "base/internal/rdkafka_util.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::base {
namespace {

using internal::KafkaError;
using internal::MakeClient;
using internal::MakeConf;

// Kafka protocol ApiKey of Produce requests (rdkafka_mock.h takes raw ApiKeys).
constexpr int16_t kProduceApiKey = 0;

absl::StatusOr<int> CountPartitions(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, StrCat("metadata of ", topic));
  int count = 0;
  absl::Status status;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    count = md->topics[0].partition_cnt;
  } else {
    status = KafkaError(md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC,
                        StrCat("metadata of ", topic));
  }
  rd_kafka_metadata_destroy(md);
  if (!status.ok()) return status;
  return count;
}

// A transactional API error by what the caller should do next (see KafkaProducer); takes it.
absl::Status TxnError(rd_kafka_error_t* error, std::string_view what) {
  if (error == nullptr) return absl::OkStatus();
  const std::string message = StrCat(what, ": ", rd_kafka_error_string(error));
  absl::Status status;
  if (rd_kafka_error_is_fatal(error)) {
    status = absl::FailedPreconditionError(message);
  } else if (rd_kafka_error_txn_requires_abort(error)) {
    status = absl::AbortedError(message);
  } else if (rd_kafka_error_is_retriable(error)) {
    status = absl::UnavailableError(message);
  } else {
    status = absl::InternalError(message);
  }
  rd_kafka_error_destroy(error);
  return status;
}

}  // namespace

absl::StatusOr<std::string> ResolveKafkaProperty(std::string_view key, std::string_view value) {
  if (!value.starts_with("file:")) return std::string(value);
  const std::string path(value.substr(5));
  std::ifstream in(path, std::ios::binary);
  std::string contents;
  if (in.is_open()) contents.assign(std::istreambuf_iterator<char>(in), {});
  if (!in.is_open() || in.bad()) {
    return absl::InvalidArgumentError(StrCat("kafka property ", key, ": cannot read file ", path,
                                             "; check that it exists and cmo may read it"));
  }
  while (!contents.empty() && (contents.back() == '\n' || contents.back() == '\r')) {
    contents.pop_back();
  }
  return contents;
}

// ---- mock cluster ----

struct KafkaMockCluster::Impl {
  rd_kafka_t* host = nullptr;  // the client instance the mock cluster lives in
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Impl() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    if (host != nullptr) rd_kafka_destroy(host);
  }
};

KafkaMockCluster::KafkaMockCluster(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), bootstrap_(rd_kafka_mock_cluster_bootstraps(impl_->cluster)) {}

KafkaMockCluster::~KafkaMockCluster() = default;

absl::StatusOr<std::unique_ptr<KafkaMockCluster>> KafkaMockCluster::Start(int brokers) {
  auto impl = std::make_unique<Impl>();
  CMO_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeConf({{"log_level", "0"}}));
  CMO_ASSIGN_OR_RETURN(impl->host, MakeClient(RD_KAFKA_PRODUCER, conf));
  impl->cluster = rd_kafka_mock_cluster_new(impl->host, brokers);
  if (impl->cluster == nullptr) {
    return absl::UnavailableError("cannot start the embedded Kafka (mock) cluster");
  }
  return std::unique_ptr<KafkaMockCluster>(new KafkaMockCluster(std::move(impl)));
}

absl::Status KafkaMockCluster::CreateTopic(const std::string& topic, int partitions,
                                           int replication) {
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, replication);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, StrCat("create topic ", topic));
  return absl::OkStatus();
}

void KafkaMockCluster::SetBrokerDown(int32_t broker_id) {
  rd_kafka_mock_broker_set_down(impl_->cluster, broker_id);
}

void KafkaMockCluster::SetBrokerUp(int32_t broker_id) {
  rd_kafka_mock_broker_set_up(impl_->cluster, broker_id);
}

void KafkaMockCluster::FailNextProduceRequests(int count) {
  std::vector<rd_kafka_resp_err_t> errs(static_cast<size_t>(count),
                                        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  rd_kafka_mock_push_request_errors_array(impl_->cluster, kProduceApiKey, errs.size(), errs.data());
}

void KafkaMockCluster::DelayProduceAcks(int32_t broker_id, int count, int delay_ms) {
  for (int i = 0; i < count; ++i) {
    rd_kafka_mock_broker_push_request_error_rtts(impl_->cluster, broker_id, kProduceApiKey, 1,
                                                 RD_KAFKA_RESP_ERR_NO_ERROR, delay_ms);
  }
}

// ---- producer ----

struct KafkaProducer::Impl {
  rd_kafka_t* rk = nullptr;
  std::function<void(const DeliveryReport&)> on_delivery;
  ~Impl() {
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    DeliveryReport r;
    r.opaque = reinterpret_cast<uintptr_t>(m->_private);
    r.partition = m->partition;
    r.offset = m->offset;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) r.status = KafkaError(m->err, "delivery");
    if (self->on_delivery) self->on_delivery(r);
  }
};

KafkaProducer::KafkaProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaProducer::~KafkaProducer() = default;

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const KafkaConfig& config, std::function<void(const DeliveryReport&)> on_delivery) {
  auto impl = std::make_unique<Impl>();
  impl->on_delivery = std::move(on_delivery);
  CMO_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeConf(config));
  rd_kafka_conf_set_dr_msg_cb(conf, &Impl::OnDelivery);
  rd_kafka_conf_set_opaque(conf, impl.get());
  CMO_ASSIGN_OR_RETURN(impl->rk, MakeClient(RD_KAFKA_PRODUCER, conf));
  return std::unique_ptr<KafkaProducer>(new KafkaProducer(std::move(impl)));
}

absl::Status KafkaProducer::Produce(const std::string& topic, int32_t partition,
                                    std::string_view key, std::string_view value, uint64_t opaque) {
  // The array form of rd_kafka_producev: its RD_KAFKA_V_* macros use GNU statement
  // expressions, which clang rejects under -Wpedantic.
  rd_kafka_vu_t vus[6] = {};
  vus[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  vus[0].u.cstr = topic.c_str();
  vus[1].vtype = RD_KAFKA_VTYPE_PARTITION;
  vus[1].u.i32 = partition;
  vus[2].vtype = RD_KAFKA_VTYPE_KEY;
  vus[2].u.mem = {const_cast<char*>(key.data()), key.size()};
  vus[3].vtype = RD_KAFKA_VTYPE_VALUE;
  vus[3].u.mem = {const_cast<char*>(value.data()), value.size()};
  vus[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[4].u.i = RD_KAFKA_MSG_F_COPY;
  vus[5].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vus[5].u.ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(opaque));
  rd_kafka_error_t* error = rd_kafka_produceva(impl_->rk, vus, 6);
  const rd_kafka_resp_err_t err =
      error == nullptr ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_error_code(error);
  if (error != nullptr) rd_kafka_error_destroy(error);
  if (err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    // A topic created a moment ago is unknown to this producer until its metadata reaches the
    // brokers it asks (seconds on a three-broker cluster): ask again now (so the next attempt
    // sees it) and have the caller retry, rather than give up on it.
    CountPartitions(impl_->rk, topic, 1000).IgnoreError();
    return absl::UnavailableError(StrCat("produce to ", topic,
                                         ": not in this producer's metadata yet (",
                                         rd_kafka_err2str(err), ")"));
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, StrCat("produce to ", topic));
  return absl::OkStatus();
}

int KafkaProducer::Poll(int timeout_ms) { return rd_kafka_poll(impl_->rk, timeout_ms); }

absl::Status KafkaProducer::Flush(int timeout_ms) {
  const rd_kafka_resp_err_t err = rd_kafka_flush(impl_->rk, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "flush");
  return absl::OkStatus();
}

absl::StatusOr<int> KafkaProducer::PartitionCount(const std::string& topic, int timeout_ms) {
  return CountPartitions(impl_->rk, topic, timeout_ms);
}

int KafkaProducer::OutQueueLength() { return rd_kafka_outq_len(impl_->rk); }

absl::Status KafkaProducer::InitTransactions(int timeout_ms) {
  return TxnError(rd_kafka_init_transactions(impl_->rk, timeout_ms), "init transactions");
}

absl::Status KafkaProducer::BeginTransaction() {
  return TxnError(rd_kafka_begin_transaction(impl_->rk), "begin transaction");
}

absl::Status KafkaProducer::CommitTransaction(int timeout_ms) {
  return TxnError(rd_kafka_commit_transaction(impl_->rk, timeout_ms), "commit transaction");
}

absl::Status KafkaProducer::AbortTransaction(int timeout_ms) {
  return TxnError(rd_kafka_abort_transaction(impl_->rk, timeout_ms), "abort transaction");
}

// ---- consumer ----

struct KafkaConsumer::Impl {
  rd_kafka_t* rk = nullptr;
  PositionsFor positions;        // group mode only
  absl::Status rebalance_error;  // from `positions`, returned by the next Poll
  ~Impl() {
    if (rk != nullptr) {
      rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
    }
  }
};

KafkaConsumer::KafkaConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaConsumer::~KafkaConsumer() = default;

absl::StatusOr<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(const KafkaConfig& given) {
  auto impl = std::make_unique<Impl>();
  // Positions are kept by their owners, never committed to the group (also in group mode,
  // Subscribe); librdkafka still wants a group id, for assign() too.
  KafkaConfig config = given;
  config.emplace("group.id", "cmo-reader");
  config.emplace("enable.auto.commit", "false");
  CMO_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeConf(config));
  // Only ever called in group mode (Subscribe); the Impl outlives the client it owns.
  rd_kafka_conf_set_opaque(conf, impl.get());
  rd_kafka_conf_set_rebalance_cb(
      conf, [](rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
               void* opaque) { OnRebalance(rk, static_cast<int>(err), parts, opaque); });
  CMO_ASSIGN_OR_RETURN(impl->rk, MakeClient(RD_KAFKA_CONSUMER, conf));
  rd_kafka_poll_set_consumer(impl->rk);
  return std::unique_ptr<KafkaConsumer>(new KafkaConsumer(std::move(impl)));
}

void KafkaConsumer::OnRebalance(rd_kafka_s* rk, int err, rd_kafka_topic_partition_list_s* parts,
                                void* opaque) {
  Impl* impl = static_cast<Impl*>(opaque);
  if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS || !impl->positions) {
    rd_kafka_assign(rk, nullptr);  // revoked (eager protocol: everything, until reassigned)
    return;
  }
  std::vector<TopicPartitionOffset> given;
  for (int i = 0; i < parts->cnt; ++i) {
    given.push_back({parts->elems[i].topic, parts->elems[i].partition, kOffsetBeginning});
  }
  absl::StatusOr<std::vector<TopicPartitionOffset>> positions = impl->positions(given);
  if (!positions.ok()) {
    // Read nothing rather than from a wrong place; the owner sees the error and rebuilds.
    impl->rebalance_error = positions.status();
    rd_kafka_assign(rk, nullptr);
    return;
  }
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(positions->size()));
  for (const TopicPartitionOffset& p : *positions) {
    rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition)->offset = p.offset;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
}

absl::Status KafkaConsumer::Subscribe(const std::vector<std::string>& topics,
                                      PositionsFor positions) {
  impl_->positions = std::move(positions);
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const std::string& t : topics) {
    rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(impl_->rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "subscribe");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TopicPartitionOffset>> KafkaConsumer::Assignment() {
  rd_kafka_topic_partition_list_t* list = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_assignment(impl_->rk, &list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "assignment");
  std::vector<TopicPartitionOffset> out;
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, list->elems[i].partition, list->elems[i].offset});
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

absl::Status KafkaConsumer::Assign(const std::vector<TopicPartitionOffset>& partitions) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const TopicPartitionOffset& p : partitions) {
    rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition)->offset = p.offset;
  }
  const rd_kafka_resp_err_t err = rd_kafka_assign(impl_->rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "assign");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KafkaMessage>> KafkaConsumer::Poll(int max, int timeout_ms) {
  std::vector<KafkaMessage> out;
  int wait = timeout_ms;
  while (static_cast<int>(out.size()) < max) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->rk, wait);
    if (!impl_->rebalance_error.ok()) {
      if (m != nullptr) rd_kafka_message_destroy(m);
      return std::exchange(impl_->rebalance_error, absl::OkStatus());
    }
    if (m == nullptr) break;
    wait = 0;  // take what is already buffered, without waiting again
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      KafkaMessage msg;
      msg.topic = rd_kafka_topic_name(m->rkt);
      msg.partition = m->partition;
      msg.offset = m->offset;
      if (m->key != nullptr) msg.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) {
        msg.value.assign(static_cast<const char*>(m->payload), m->len);
      }
      out.push_back(std::move(msg));
    } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
               m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      // With auto.offset.reset=error: the position is outside the log (retention deleted
      // records not yet read, or the log restarted). The owner of the position decides.
      absl::Status s = absl::OutOfRangeError(
          StrCat("consume ", m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "?", "[",
                 m->partition, "]: position outside the log (", rd_kafka_err2str(m->err), ")"));
      rd_kafka_message_destroy(m);
      return s;
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
               rd_kafka_fatal_error(impl_->rk, nullptr, 0)) {
      absl::Status s = KafkaError(m->err, "consume");
      rd_kafka_message_destroy(m);
      return s;
    }
    rd_kafka_message_destroy(m);
  }
  return out;
}

absl::StatusOr<int> KafkaConsumer::PartitionCount(const std::string& topic, int timeout_ms) {
  return CountPartitions(impl_->rk, topic, timeout_ms);
}

absl::StatusOr<std::map<std::string, int>> KafkaConsumer::ListTopics(std::string_view prefix,
                                                                     int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(impl_->rk, 1, nullptr, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "list topics");
  std::map<std::string, int> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const std::string_view name = md->topics[i].topic;
    if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && name.starts_with(prefix)) {
      out[std::string(name)] = md->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

absl::StatusOr<std::pair<int64_t, int64_t>> KafkaConsumer::Watermarks(const std::string& topic,
                                                                      int32_t partition,
                                                                      int timeout_ms) {
  int64_t low = 0, high = 0;
  const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      impl_->rk, topic.c_str(), partition, &low, &high, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "query watermarks");
  return std::make_pair(low, high);
}

}  // namespace cmo::base
