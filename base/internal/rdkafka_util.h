// What base/kafka.cc and base/kafka_admin.cc share over librdkafka's C API: error mapping by
// what the caller should do next, and building a client from a KafkaConfig.
#ifndef CMO_BASE_INTERNAL_RDKAFKA_UTIL_H_
#define CMO_BASE_INTERNAL_RDKAFKA_UTIL_H_

#include <librdkafka/rdkafka.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/kafka.h"

namespace cmo::base::internal {

// kUnavailable for transport and timeout errors (retry), kNotFound for unknown topics,
// kAlreadyExists, kInvalidArgument for settings a broker refuses, kFailedPrecondition for
// refused credentials or ACLs and for a fenced or fatally failed client; kInternal otherwise.
absl::Status KafkaError(rd_kafka_resp_err_t err, std::string_view context);
// The same with the broker's own error string (admin results carry one).
absl::Status KafkaError(rd_kafka_resp_err_t err, std::string_view context, std::string_view detail);
// A conf with every setting applied; never echoes a value (it may be a secret).
absl::StatusOr<rd_kafka_conf_t*> MakeConf(const KafkaConfig& config);
// Takes `conf` (destroyed on failure too).
absl::StatusOr<rd_kafka_t*> MakeClient(rd_kafka_type_t type, rd_kafka_conf_t* conf);

}  // namespace cmo::base::internal

#endif  // CMO_BASE_INTERNAL_RDKAFKA_UTIL_H_
