// A throwaway Apache Kafka cluster for one test: scripts/kafka-cluster.sh starts 1 or 3 real
// brokers (KRaft, loopback ports, data in a temp dir) and stops them by PID when this is
// destroyed. Tests that kill and restart brokers own one of these; tests that only need a
// broker use the shared one the `kafka_real_cluster` CTest fixture starts (SharedBootstrap).
#ifndef CMO_TESTS_FAKES_KAFKA_CLUSTER_H_
#define CMO_TESTS_FAKES_KAFKA_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::testing {

class KafkaCluster {
 public:
  // kUnavailable (with the script's output) when the brokers did not come up.
  // `sasl_plain` "USER:PASSWORD": each broker also listens for SASL_PLAINTEXT clients (PLAIN
  // mechanism, that one user) at sasl_bootstrap().
  static absl::StatusOr<std::unique_ptr<KafkaCluster>> Start(int brokers,
                                                             const std::string& sasl_plain = "");
  ~KafkaCluster();  // stops every broker and removes the data
  KafkaCluster(const KafkaCluster&) = delete;
  KafkaCluster& operator=(const KafkaCluster&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  const std::string& sasl_bootstrap() const { return sasl_bootstrap_; }
  // Broker `node` (1-based): SIGKILL (or `signal`), then start again on the same port and data.
  absl::Status Kill(int node, int signal = 9);
  absl::Status Restart(int node);

 private:
  KafkaCluster() = default;
  std::string dir_;
  std::string bootstrap_;
  std::string sasl_bootstrap_;
};

// The bootstrap servers of the cluster the `kafka_real_cluster` CTest fixture started
// (CMO_KAFKA_REAL_DIR); kFailedPrecondition when the test runs outside that fixture.
absl::StatusOr<std::string> SharedKafkaBootstrap();

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_KAFKA_CLUSTER_H_
