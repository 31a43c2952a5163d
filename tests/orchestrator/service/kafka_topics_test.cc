// What cmo's topics must look like, and what it says about one that does not (no broker here;
// tests/e2e/kafka_real_topics_test.cc runs the same on a real one).
#include "orchestrator/service/kafka_topics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const TopicPolicy kPolicy = {.partitions = 8, .telemetry_retention = absl::Minutes(30)};

TEST(KafkaTopicsTest, EachTopicGetsTheSettingsItsReadersNeed) {
  auto flags = WantedTopic("cmo.flags", kPolicy, 3);
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->partitions, 1);
  EXPECT_EQ(flags->configs.at("cleanup.policy"), "compact");
  EXPECT_EQ(flags->configs.at("min.insync.replicas"), "2");
  EXPECT_EQ(flags->replication_factor, 3);

  auto telemetry = WantedTopic("cmo.telemetry", kPolicy, 1);
  ASSERT_TRUE(telemetry.ok());
  EXPECT_EQ(telemetry->partitions, 8);
  EXPECT_EQ(telemetry->configs.at("cleanup.policy"), "delete");
  EXPECT_EQ(telemetry->configs.at("retention.ms"), "1800000");
  EXPECT_EQ(telemetry->configs.at("min.insync.replicas"), "1") << "one broker: one in sync";

  auto changes = WantedTopic("cmo.changes.likes", kPolicy, 3);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->partitions, 8);
  EXPECT_EQ(changes->configs.at("cleanup.policy"), "delete");

  EXPECT_THAT(WantedTopic("orders", kPolicy, 3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a topic of cmo's")));
  EXPECT_THAT(WantedTopic("cmo.changes.", kPolicy, 3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a topic")));
}

TEST(KafkaTopicsTest, ATopicAsWantedHasNoProblems) {
  const base::TopicSettings want = *WantedTopic("cmo.changes.likes", kPolicy, 3);
  base::TopicSettings have = want;
  have.partitions = 12;  // more partitions than configured is fine
  have.configs["retention.ms"] = "604800000";
  const TopicProblems p = CheckTopic(want, have, "k1:9092");
  EXPECT_THAT(p.errors, IsEmpty());
  EXPECT_THAT(p.warnings, IsEmpty());
}

TEST(KafkaTopicsTest, AWrongCleanupPolicyIsAnErrorThatSaysWhatToRun) {
  const base::TopicSettings want = *WantedTopic("cmo.flags", kPolicy, 3);
  base::TopicSettings have = want;
  have.configs["cleanup.policy"] = "delete";
  const TopicProblems p = CheckTopic(want, have, "k1:9092");
  ASSERT_THAT(p.errors, ElementsAre(HasSubstr("cmo.flags has cleanup.policy=delete; cmo needs "
                                              "compact (the newest flag snapshot must never age "
                                              "out)")));
  EXPECT_THAT(p.errors[0], HasSubstr("kafka-configs.sh --bootstrap-server k1:9092 --alter "
                                     "--entity-type topics --entity-name cmo.flags "
                                     "--add-config cleanup.policy=compact"));
  const base::TopicSettings changes = *WantedTopic("cmo.changes.likes", kPolicy, 3);
  have = changes;
  have.configs["cleanup.policy"] = "compact,delete";
  EXPECT_THAT(CheckTopic(changes, have, "k").errors,
              ElementsAre(HasSubstr("compaction could drop a change")));
}

TEST(KafkaTopicsTest, TooFewPartitionsIsAnErrorAndALowReplicationFactorAWarning) {
  const base::TopicSettings want = *WantedTopic("cmo.changes.likes", kPolicy, 3);
  base::TopicSettings have = want;
  have.partitions = 2;
  have.replication_factor = 1;
  const TopicProblems p = CheckTopic(want, have, "k");
  EXPECT_THAT(p.errors, ElementsAre(HasSubstr("has 2 partitions, fewer than kafka.partitions "
                                              "(8). Set kafka.partitions: 2")));
  EXPECT_THAT(p.warnings, ElementsAre(HasSubstr("replication factor 1, below 3")));

  const base::TopicSettings flags = *WantedTopic("cmo.flags", kPolicy, 1);
  have = flags;
  have.partitions = 3;
  EXPECT_THAT(CheckTopic(flags, have, "k").errors, ElementsAre(HasSubstr("cmo needs exactly 1")));
  const base::TopicSettings telemetry = *WantedTopic("cmo.telemetry", kPolicy, 1);
  have = telemetry;
  have.partitions = 1;  // any count serves telemetry
  EXPECT_THAT(CheckTopic(telemetry, have, "k").errors, IsEmpty());
}

}  // namespace
}  // namespace cmo::orchestrator
