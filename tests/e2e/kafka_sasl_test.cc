// `cmo serve` on a real broker that requires authentication (SASL/PLAIN on its client
// listener): kafka.properties reach every Kafka client cmo makes (admin, relay, appliers,
// flags, telemetry), the password comes from a file and never appears in cmo's output, and a
// wrong password stops `cmo serve` with an error that says so instead of hanging.
#include <filesystem>
#include <fstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/state_dir_stores.h"
#include "tests/fakes/kafka_cluster.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"

namespace cmo {
namespace {

using ::cmo::testing::Child;
using ::cmo::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

const std::vector<std::string> kDomains = {"likes", "comments"};
const std::vector<std::string> kRegions = {"eu-west", "us-east"};
constexpr char kPassword[] = "pw-7f3a9c-secret";

class KafkaSaslTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = ::cmo::testing::KafkaCluster::Start(1, std::string("cmo:") + kPassword);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_FALSE(cluster_->sasl_bootstrap().empty());
  }

  // A config naming the SASL listener, with the password in a file of its own.
  std::string Config(const std::string& password) {
    const std::string secret = dir_.File("kafka-password");
    std::ofstream(secret) << password << "\n";
    const std::string config = dir_.File("serve.yaml");
    std::ofstream(config) << "kafka:\n  brokers: '" << cluster_->sasl_bootstrap() << "'\n"
                          << "  properties:\n    security.protocol: SASL_PLAINTEXT\n"
                          << "    sasl.mechanisms: PLAIN\n    sasl.username: cmo\n"
                          << "    sasl.password: 'file:" << secret << "'\n";
    return config;
  }

  // `cmo serve` with its stderr on the stdout the test reads.
  std::vector<std::string> Serve(const std::string& config) {
    return {"/bin/sh", "-c",
            std::string("exec '") + CMO_BINARY + "' --state-dir '" + dir_.File("state") +
                "' serve --config '" + config + "' --listen off --status-interval 1s 2>&1"};
  }

  ::cmo::testing::TempDir dir_;
  std::unique_ptr<::cmo::testing::KafkaCluster> cluster_;
};

TEST_F(KafkaSaslTest, ServeAuthenticatesEveryClientAndNeverPrintsThePassword) {
  std::filesystem::create_directories(dir_.File("state"));
  Child serve(Serve(Config(kPassword)));
  std::string output;
  std::thread read([&] {
    std::optional<std::string> line;
    while ((line = serve.ReadLine()).has_value()) output += *line + "\n";
  });
  ASSERT_TRUE(WaitFor(
      [&] { return std::filesystem::exists(dir_.File("state") + "/replica-us-east.db"); }, 60s));
  const ::cmo::testing::RunResult writer = ::cmo::testing::Run(
      {CMO_WRITER, dir_.File("state") + "/primary.db", "5000", "100", "40", "2000"});
  EXPECT_EQ(writer.exit_code, 0) << writer.err;
  EXPECT_TRUE(
      WaitFor([&] { return ::cmo::testing::Converged(dir_.File("state"), kRegions, kDomains); },
              90s, 250ms))
      << "replicas did not converge through the authenticated listener";
  serve.Kill(SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
  read.join();
  ::cmo::testing::ExpectRowByRowEqual(dir_.File("state"), kRegions, kDomains);
  EXPECT_THAT(output, HasSubstr("applied"));
  EXPECT_THAT(output, Not(HasSubstr(kPassword)));
}

TEST_F(KafkaSaslTest, AWrongPasswordStopsServeWithAClearError) {
  std::filesystem::create_directories(dir_.File("state"));
  std::vector<std::string> argv = {"/usr/bin/timeout", "90"};
  for (const std::string& a : Serve(Config("not-the-password"))) argv.push_back(a);
  const ::cmo::testing::RunResult r = ::cmo::testing::Run(argv);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "cmo serve kept running with a refused password:\n" << r.out;
  EXPECT_THAT(r.out, HasSubstr("cmo: error: the Kafka cluster refused cmo's credentials: "));
  EXPECT_THAT(r.out, HasSubstr("Invalid username or password"));
  EXPECT_THAT(r.out, Not(HasSubstr("not-the-password")));
}

}  // namespace
}  // namespace cmo
