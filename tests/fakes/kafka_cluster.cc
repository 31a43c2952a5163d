#include "tests/fakes/kafka_cluster.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "base/strings.h"
#include "tests/fakes/subprocess.h"

namespace cmo::testing {
namespace {

std::string Script() { return std::string(CMO_SOURCE_DIR) + "/scripts/kafka-cluster.sh"; }

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaCluster>> KafkaCluster::Start(int brokers,
                                                                  const std::string& sasl_plain) {
  // The script picks ports that are free when it looks; a test running in parallel can take
  // one before the broker binds it (seen in CI: a node failed in SocketServer startup). Such a
  // start is retried on new ports; a cluster that fails three times is a real failure.
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::string tmpl = "/tmp/cmo_kafka_XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
    std::unique_ptr<KafkaCluster> c(new KafkaCluster());
    c->dir_ = tmpl;
    std::vector<std::string> argv = {"/bin/bash", Script(), "start", c->dir_,
                                     std::to_string(brokers)};
    if (!sasl_plain.empty()) {
      argv.push_back("--sasl-plain");
      argv.push_back(sasl_plain);
    }
    const RunResult r = Run(argv);
    if (r.exit_code == 0) {
      c->bootstrap_ = Trim(r.out);
      if (!sasl_plain.empty()) {
        std::ifstream in(c->dir_ + "/sasl-bootstrap");
        std::getline(in, c->sasl_bootstrap_);
      }
      return c;
    }
    last = absl::UnavailableError(
        base::StrCat("kafka-cluster.sh start failed (exit ", r.exit_code, "): ", r.err, r.out));
    // ~KafkaCluster stops whatever nodes did start and removes the dir.
  }
  return last;
}

KafkaCluster::~KafkaCluster() {
  Run({"/bin/bash", Script(), "stop", dir_});
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

absl::Status KafkaCluster::Kill(int node, int signal) {
  const RunResult r =
      Run({"/bin/bash", Script(), "kill", dir_, std::to_string(node), std::to_string(signal)});
  if (r.exit_code != 0) return absl::InternalError(base::StrCat("kill failed: ", r.err));
  return absl::OkStatus();
}

absl::Status KafkaCluster::Restart(int node) {
  const RunResult r = Run({"/bin/bash", Script(), "restart", dir_, std::to_string(node)});
  if (r.exit_code != 0) return absl::UnavailableError(base::StrCat("restart failed: ", r.err));
  return absl::OkStatus();
}

absl::StatusOr<std::string> SharedKafkaBootstrap() {
  const char* dir = ::getenv("CMO_KAFKA_REAL_DIR");
  if (dir == nullptr) {
    return absl::FailedPreconditionError(
        "CMO_KAFKA_REAL_DIR is not set: run this test through ctest (fixture kafka_real_cluster)");
  }
  std::ifstream in(std::string(dir) + "/bootstrap");
  std::string bootstrap;
  if (!(in >> bootstrap)) {
    return absl::FailedPreconditionError(
        base::StrCat("no cluster in ", dir, ": did the kafka_real_cluster fixture start?"));
  }
  return bootstrap;
}

}  // namespace cmo::testing
