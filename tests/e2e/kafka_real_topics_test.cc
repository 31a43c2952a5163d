// cmo's topics on a real Apache Kafka broker (auto-creation off, as cmo must not rely on it):
// created with the admin API with the settings their readers need, checked when they exist,
// and `cmo serve` refusing to start on a topic that would lose data, saying what to change.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "base/kafka_admin.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/service/kafka_topics.h"
#include "tests/fakes/kafka_cluster.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"
#include "tests/status_matchers.h"

namespace cmo {
namespace {

using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

std::unique_ptr<base::KafkaAdmin> Admin(const std::string& bootstrap) {
  auto admin = base::KafkaAdmin::Create({{"bootstrap.servers", bootstrap}, {"log_level", "3"}});
  EXPECT_TRUE(admin.ok()) << admin.status();
  return admin.ok() ? *std::move(admin) : nullptr;
}

// A change topic name no other test uses on the shared broker.
std::string FreshChangeTopic(const std::string& what) {
  return absl::StrCat("cmo.changes.", what, "_", ::getpid(), "_", ::time(nullptr));
}

TEST(KafkaRealTopicsTest, MissingTopicsAreCreatedAsWantedAndFoundAgain) {
  absl::StatusOr<std::string> bootstrap = ::cmo::testing::SharedKafkaBootstrap();
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  const base::KafkaConfig config = {{"bootstrap.servers", *bootstrap}, {"log_level", "3"}};
  const orchestrator::TopicPolicy policy = {.partitions = 6};
  std::vector<std::string> warnings;
  auto topics = orchestrator::KafkaTopics::Connect(
      config, policy, [&](const std::string& w) { warnings.push_back(w); });
  ASSERT_TRUE(topics.ok()) << topics.status();
  const std::string topic = FreshChangeTopic("created");
  EXPECT_THAT((*topics)->Ensure(topic), ::cmo::testing::IsOkAndHolds(6));

  // What the broker has, read back by another client: cmo's settings, not broker defaults.
  auto admin = Admin(*bootstrap);
  absl::StatusOr<base::TopicSettings> have = admin->DescribeTopic(topic, 10000);
  for (int i = 0; i < 50 && absl::IsNotFound(have.status()); ++i) {
    ::usleep(100'000);  // the new topic's metadata reaching the broker we ask
    have = admin->DescribeTopic(topic, 10000);
  }
  ASSERT_TRUE(have.ok()) << have.status();
  EXPECT_EQ(have->partitions, 6);
  EXPECT_EQ(have->replication_factor, 1) << "min(3, brokers) with one broker";
  EXPECT_EQ(have->configs.at("cleanup.policy"), "delete");
  EXPECT_EQ(have->configs.at("min.insync.replicas"), "1");

  // Another process (a second relay) finds it and checks it instead of creating it.
  auto again = orchestrator::KafkaTopics::Connect(config, policy, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_THAT((*again)->Ensure(topic), ::cmo::testing::IsOkAndHolds(6));
  EXPECT_TRUE(warnings.empty());
  EXPECT_THAT(admin->DescribeTopic(FreshChangeTopic("never"), 10000),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("does not exist")));
}

TEST(KafkaRealTopicsTest, AnExistingTopicThatWouldLoseChangesIsRefused) {
  absl::StatusOr<std::string> bootstrap = ::cmo::testing::SharedKafkaBootstrap();
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  auto admin = Admin(*bootstrap);
  const std::string topic = FreshChangeTopic("compacted");
  ASSERT_TRUE(admin
                  ->CreateTopic({.name = topic,
                                 .partitions = 2,
                                 .replication_factor = 1,
                                 .configs = {{"cleanup.policy", "compact"}}},
                                10000)
                  .ok());
  EXPECT_THAT(admin->CreateTopic({.name = topic, .partitions = 2, .configs = {}}, 10000),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already exists")));
  auto topics = orchestrator::KafkaTopics::Connect(
      {{"bootstrap.servers", *bootstrap}, {"log_level", "3"}}, {.partitions = 4}, nullptr);
  ASSERT_TRUE(topics.ok());
  absl::StatusOr<int> n = (*topics)->Ensure(topic);
  for (int i = 0; i < 50 && absl::IsUnavailable(n.status()); ++i) n = (*topics)->Ensure(topic);
  EXPECT_THAT(n, StatusIs(absl::StatusCode::kFailedPrecondition,
                          HasSubstr("has cleanup.policy=compact; cmo needs delete")));
  EXPECT_THAT(n, StatusIs(absl::StatusCode::kFailedPrecondition,
                          HasSubstr("has 2 partitions, fewer than kafka.partitions (4)")));
  // A replication factor the cluster cannot give is the operator's to fix, said so.
  auto greedy = orchestrator::KafkaTopics::Connect(
      {{"bootstrap.servers", *bootstrap}, {"log_level", "3"}}, {.replication_factor = 3}, nullptr);
  ASSERT_TRUE(greedy.ok());
  EXPECT_THAT(
      (*greedy)->Ensure(FreshChangeTopic("rf3")),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("set kafka.replication_factor")));
}

// A cluster of its own: cmo.flags is created wrongly here, which would spoil the shared one.
TEST(KafkaRealTopicsTest, ServeCreatesItsTopicsAndRefusesAWrongFlagsTopic) {
  auto cluster = ::cmo::testing::KafkaCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const std::string bootstrap = (*cluster)->bootstrap();
  ::cmo::testing::TempDir dir;

  // Started on an empty cluster, serve creates cmo.flags and cmo.telemetry before it is ready.
  {
    ::cmo::testing::Child serve({CMO_BINARY, "--state-dir", dir.File("ok"), "serve", "--kafka",
                                 bootstrap, "--listen", "off"});
    std::optional<std::string> line;
    while ((line = serve.ReadLine()).has_value() && line->find("ready") == std::string::npos) {
    }
    ASSERT_TRUE(line.has_value()) << "serve exited before it was ready";
    const ::cmo::testing::RunResult kcat =
        ::cmo::testing::Run({"/usr/bin/kcat", "-b", bootstrap, "-L"});
    EXPECT_THAT(kcat.out, HasSubstr("topic \"cmo.flags\" with 1 partitions"));
    EXPECT_THAT(kcat.out, HasSubstr("topic \"cmo.telemetry\" with 4 partitions"));
    serve.Kill(SIGTERM);
    EXPECT_EQ(serve.Wait(), 0);
  }

  // Now a cluster whose cmo.flags was made by hand with the broker's default policy.
  auto fresh = ::cmo::testing::KafkaCluster::Start(1);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  auto admin = Admin((*fresh)->bootstrap());
  ASSERT_TRUE(
      admin->CreateTopic({.name = "cmo.flags", .partitions = 1, .configs = {}}, 10000).ok());
  const ::cmo::testing::RunResult r =
      ::cmo::testing::Run({CMO_BINARY, "--state-dir", dir.File("bad"), "serve", "--kafka",
                           (*fresh)->bootstrap(), "--listen", "off"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("Kafka topic cmo.flags has cleanup.policy=delete; cmo needs "
                               "compact"));
  EXPECT_THAT(r.err, HasSubstr("--add-config cleanup.policy=compact"));
}

}  // namespace
}  // namespace cmo
