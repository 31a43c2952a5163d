// Fault runs of the data path with real processes: `cmo serve` (relay, appliers and the
// embedded Kafka) is killed with SIGKILL under write load and restarted on a new, empty
// cluster; on a real Kafka broker (built with CMO_KAFKA_REAL, label kafka-real) the broker
// keeps its log across the restarts and is itself killed and restarted mid-load. Nothing may
// be lost and nothing applied twice: every replica ends equal to the primary, row by row.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "base/clock.h"
#include "gtest/gtest.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/e2e/state_dir_stores.h"
#include "tests/fakes/kafka_cluster.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"

namespace cmo {
namespace {

using ::cmo::testing::Child;
using ::cmo::testing::WaitFor;
using namespace std::chrono_literals;

const std::vector<std::string> kDomains = {"likes", "comments"};
const std::vector<std::string> kRegions = {"eu-west", "us-east"};

// kRealTransactional: the relay publishes in Kafka transactions (kafka.transactional_id), so
// a relay or broker killed mid-transaction leaves an open one that the next relay aborts.
enum class Kafka { kEmbedded, kReal, kRealTransactional };
void PrintTo(Kafka k, std::ostream* os) {
  *os << (k == Kafka::kEmbedded ? "embedded" : k == Kafka::kReal ? "real" : "real-transactional");
}

class ServeFaultTest : public ::testing::TestWithParam<Kafka> {
 protected:
  void SetUp() override {
    if (GetParam() != Kafka::kEmbedded) {
      auto cluster = ::cmo::testing::KafkaCluster::Start(1);
      ASSERT_TRUE(cluster.ok()) << cluster.status();
      kafka_ = *std::move(cluster);
    }
  }

  std::string State() const { return dir_.File("state"); }
  // The serve arguments that pick the cluster.
  std::vector<std::string> KafkaArgs() const {
    if (kafka_ == nullptr) return {};
    if (GetParam() == Kafka::kRealTransactional) {
      const std::string config = dir_.File("serve.yaml");
      std::ofstream(config) << "kafka: {transactional_id: cmo-relay-fault-test}\n";
      return {"--kafka", kafka_->bootstrap(), "--config", config};
    }
    return {"--kafka", kafka_->bootstrap()};
  }

  std::unique_ptr<Child> StartRole(const std::string& role, const std::string& regions) {
    std::vector<std::string> argv = {
        CMO_BINARY, "--state-dir",       State(), "serve", "--role", role, "--regions",
        regions,    "--status-interval", "1s"};
    for (const std::string& a : KafkaArgs()) argv.push_back(a);
    return std::make_unique<Child>(argv);
  }

  std::unique_ptr<Child> StartServe() {
    std::filesystem::remove(State() + "/kafka.bootstrap");
    std::vector<std::string> argv = {CMO_BINARY,          "--state-dir", State(),    "serve",
                                     "--status-interval", "1s",          "--listen", "127.0.0.1:0"};
    for (const std::string& a : KafkaArgs()) argv.push_back(a);
    auto serve = std::make_unique<Child>(argv);
    EXPECT_TRUE(
        WaitFor([&] { return std::filesystem::exists(State() + "/kafka.bootstrap"); }, 20s));
    return serve;
  }

  ::cmo::testing::TempDir dir_;
  std::unique_ptr<::cmo::testing::KafkaCluster> kafka_;  // kReal only
};

TEST_P(ServeFaultTest, KilledServeLosesNothing) {
  std::filesystem::create_directories(State());
  auto serve = StartServe();
  Child writer({CMO_WRITER, State() + "/primary.db", "20000", "100", "40", "3000"});
  // Kill -9 twice while the load runs: at arbitrary points between publish and mark, and
  // mid-batch in the appliers. Each restart brings up a new, empty embedded cluster (a real
  // broker keeps the log: the relay republishes what it had not marked, duplicates included).
  for (int kill = 0; kill < 2; ++kill) {
    for (int lines = 0; lines < 60; ++lines) ASSERT_TRUE(writer.ReadLine().has_value());
    serve->Kill(SIGKILL);
    EXPECT_EQ(serve->Wait(), -SIGKILL);
    serve = StartServe();
  }
  if (kafka_ != nullptr) {
    // The broker itself dies under load (kill -9: unflushed log pages are the kernel's, so
    // they survive) and is down for a while; the relay keeps the outbox until it is back.
    for (int lines = 0; lines < 40; ++lines) ASSERT_TRUE(writer.ReadLine().has_value());
    ASSERT_TRUE(kafka_->Kill(1).ok());
    for (int lines = 0; lines < 40; ++lines) ASSERT_TRUE(writer.ReadLine().has_value());
    ASSERT_TRUE(kafka_->Restart(1).ok());
  }
  std::optional<std::string> line;
  while ((line = writer.ReadLine()).has_value() && *line != "DONE") {
  }
  ASSERT_EQ(line, std::optional<std::string>("DONE"));
  EXPECT_EQ(writer.Wait(), 0);
  ASSERT_TRUE(
      WaitFor([&] { return ::cmo::testing::Converged(State(), kRegions, kDomains); }, 90s, 250ms))
      << "replicas did not converge";
  serve->Kill(SIGTERM);
  EXPECT_EQ(serve->Wait(), 0);  // graceful stop
  ::cmo::testing::ExpectRowByRowEqual(State(), kRegions, kDomains);
}

// The parts of the data path as separate processes on one state dir (as with appliers in their
// own regions): the relay, then each applier, is killed with SIGKILL mid-load and restarted,
// while Kafka (its own process) keeps the change log.
TEST_P(ServeFaultTest, KillingTheRelayOrOneApplierLosesNothing) {
  std::filesystem::create_directories(State());
  // The embedded cluster is a process of its own here; a real broker already is.
  std::unique_ptr<Child> kafka;
  if (kafka_ == nullptr) {
    kafka = StartRole("kafka", "eu-west,us-east");
    ASSERT_TRUE(
        WaitFor([&] { return std::filesystem::exists(State() + "/kafka.bootstrap"); }, 20s));
  }
  auto relay = StartRole("relay", "eu-west,us-east");
  std::map<std::string, std::unique_ptr<Child>> appliers;
  for (const std::string& r : kRegions) appliers[r] = StartRole("applier", r);
  Child writer({CMO_WRITER, State() + "/primary.db", "20000", "100", "40", "3000"});
  auto wait_lines = [&](int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(writer.ReadLine().has_value());
  };
  wait_lines(40);
  relay->Kill(SIGKILL);  // between publish and mark, at an arbitrary point
  EXPECT_EQ(relay->Wait(), -SIGKILL);
  relay = StartRole("relay", "eu-west,us-east");
  for (const std::string& r : kRegions) {
    wait_lines(40);
    appliers[r]->Kill(SIGKILL);  // mid-batch
    EXPECT_EQ(appliers[r]->Wait(), -SIGKILL);
    appliers[r] = StartRole("applier", r);
  }
  std::optional<std::string> line;
  while ((line = writer.ReadLine()).has_value() && *line != "DONE") {
  }
  ASSERT_EQ(line, std::optional<std::string>("DONE"));
  EXPECT_EQ(writer.Wait(), 0);
  ASSERT_TRUE(
      WaitFor([&] { return ::cmo::testing::Converged(State(), kRegions, kDomains); }, 90s, 250ms))
      << "replicas did not converge";
  for (auto* p : {relay.get(), appliers["eu-west"].get(), appliers["us-east"].get(), kafka.get()}) {
    if (p == nullptr) continue;
    p->Kill(SIGTERM);
    EXPECT_EQ(p->Wait(), 0);
  }
  ::cmo::testing::ExpectRowByRowEqual(State(), kRegions, kDomains);
}

#ifdef CMO_KAFKA_REAL
INSTANTIATE_TEST_SUITE_P(Kafka, ServeFaultTest,
                         ::testing::Values(Kafka::kReal, Kafka::kRealTransactional),
                         [](const auto& p) {
                           return p.param == Kafka::kReal ? "Real" : "RealTransactional";
                         });
#else
INSTANTIATE_TEST_SUITE_P(Kafka, ServeFaultTest, ::testing::Values(Kafka::kEmbedded),
                         [](const auto&) { return "Embedded"; });
#endif

}  // namespace
}  // namespace cmo
