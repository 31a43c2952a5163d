// Anyone who can reach the Kafka cluster can produce to cmo's topics (the embedded one takes
// kcat without credentials). These attacks of the security review, replayed as raw produces,
// must change nothing: a forged heartbeat must not move a watermark, forged telemetry must not
// reach the budgets, a forged flag snapshot must not win on a client. Each has a positive
// control, so the test fails if nothing at all is accepted.
#include "base/kafka.h"
#include "base/message_auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/server.h"
#include "shadow/change_event.h"
#include "shadow/client.h"
#include "shadow/state_layout.h"
#include "shadow/telemetry.h"
#include "store/primary_store.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::WaitFor;
using namespace std::chrono_literals;

class ForgedMessagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      auto state = OpenControlState(state_dir_, /*create=*/true, base::SystemClock());
      ASSERT_TRUE(state.ok()) << state.status();
      flags::Flag f;
      f.op = "post.like";
      f.domain = "likes";
      ASSERT_TRUE((*state)->flags->Add(f, {"t", "t", "ops.add", false}).ok());
    }
    auto primary = store::PrimaryStore::Open(shadow::PrimaryPath(state_dir_), base::SystemClock());
    ASSERT_TRUE(primary.ok());
    primary_ = *std::move(primary);
    Write("k1");
    ServeConfig config;
    config.state_dir = state_dir_;
    config.regions = {"eu-west"};
    auto server = Server::Start(config, base::SystemClock());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto producer = base::KafkaProducer::Create(
        {{"bootstrap.servers", server_->bootstrap_servers()}, {"log_level", "0"}},
        [](const base::DeliveryReport&) {});
    ASSERT_TRUE(producer.ok());
    kcat_ = *std::move(producer);
    // The relay has created the topic and the region has applied the first write.
    ASSERT_TRUE(WaitFor([&] { return server_->regions()[0].watermark >= 1; }, 20s));
  }
  void TearDown() override {
    if (server_) {
      EXPECT_TRUE(server_->Stop().ok());
    }
  }

  void Write(const std::string& key) {
    const std::vector<store::WriteRequest> writes = {{"likes", key, "v", false, "post.like", "u1"}};
    ASSERT_TRUE(primary_->Write(writes).ok());
  }

  void Produce(const std::string& topic, int32_t partition, const std::string& value) {
    ASSERT_TRUE(kcat_->Produce(topic, partition, "forged", value, 0).ok());
    ASSERT_TRUE(kcat_->Flush(5000).ok());
  }

  cmo::testing::TempDir dir_;
  std::string state_dir_ = dir_.File("state");
  std::unique_ptr<store::PrimaryStore> primary_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<base::KafkaProducer> kcat_;
};

// One forged heartbeat with LSN 999999999999999999 once set both regions' watermarks to it
// for good, so read-your-writes checks passed for data that was not there.
TEST_F(ForgedMessagesTest, AForgedHeartbeatNeverMovesTheWatermark) {
  const std::string topic = shadow::ChangeTopic("likes");
  auto partitions = kcat_->PartitionCount(topic, 5000);
  ASSERT_TRUE(partitions.ok());
  const auto wrong_key = base::KeyRing::FromKeys({{"k1", std::string(32, 'x')}});
  for (int32_t p = 0; p < *partitions; ++p) {
    Produce(topic, p, shadow::EncodeHeartbeat(999999999999999999, absl::Now()));
    Produce(topic, p, wrong_key->Sign(shadow::EncodeHeartbeat(999999999999999998, absl::Now())));
  }
  ASSERT_TRUE(
      WaitFor([&] { return server_->regions()[0].applier.refused >= 2 * *partitions; }, 20s))
      << "refused: " << server_->regions()[0].applier.refused;
  // Positive control: a real write still moves the watermark, exactly to the primary's LSN.
  Write("k2");
  const int64_t last = *primary_->LastLsn();
  ASSERT_TRUE(WaitFor([&] { return server_->regions()[0].watermark >= last; }, 20s));
  EXPECT_EQ(server_->regions()[0].watermark, last);
}

// A change whose LSN is past the primary's last LSN is refused as well (it would become the
// row's version, newer than every real write to come).
TEST_F(ForgedMessagesTest, AChangeBeyondThePrimarysLastLsnIsRefused) {
  store::OutboxEntry forged;
  forged.row.domain = "likes";
  forged.row.key = "k1";
  forged.row.value = "pwned";
  forged.row.lsn = 999999999999;
  forged.row.commit_time = absl::Now();
  forged.row.op = "post.like";
  forged.row.subject = "u1";
  const std::string topic = shadow::ChangeTopic("likes");
  Produce(topic, shadow::PartitionOf("k1", *kcat_->PartitionCount(topic, 5000)),
          shadow::EncodeChange(forged));
  ASSERT_TRUE(WaitFor([&] { return server_->regions()[0].applier.refused >= 1; }, 20s));
  auto replica = store::ReplicaStore::Open(shadow::ReplicaPath(state_dir_, "eu-west"));
  ASSERT_TRUE(replica.ok());
  auto row = (*replica)->Get("likes", "k1");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->value, "v");
}

shadow::TelemetryWindow BadWindow() {
  shadow::TelemetryWindow w;
  w.client_id = "attacker";
  w.region = "eu-west";
  w.start = absl::Now() - absl::Milliseconds(250);
  w.end = absl::Now();
  shadow::OpWindow op;
  op.op = "post.like";
  op.reads_eventual = 1000;
  op.samples = 1000;
  op.guarantee_violations = 1000;
  shadow::Mismatch m;
  m.subject = "victim";
  m.domain = "likes";
  m.key = "k1";
  m.region = "eu-west";
  m.mismatch_class = shadow::MismatchClass::kDivergence;
  m.primary_lsn = 1;
  m.replica_lsn = 1;
  m.detected_at = absl::Now();
  op.mismatches.push_back(m);
  w.ops.push_back(op);
  return w;
}

// Three forged telemetry windows once opened a breaker.
TEST_F(ForgedMessagesTest, ForgedTelemetryNeverReachesTheBudgets) {
  for (int i = 0; i < 3; ++i) {
    Produce(std::string(shadow::kTelemetryTopic), 0, shadow::EncodeTelemetry(BadWindow()));
  }
  ASSERT_TRUE(WaitFor([&] { return server_->control_metrics()->telemetry_refused >= 3; }, 20s));
  EXPECT_EQ(server_->control_metrics()->telemetry_windows, 0);
  EXPECT_EQ(server_->control_metrics()->mismatches_logged, 0) << "no forged divergence logged";
  // Positive control: signed with the state dir's key, the same window is taken.
  auto keys = base::KeyRing::Load(base::MessageKeyPath(state_dir_));
  ASSERT_TRUE(keys.ok()) << keys.status();
  Produce(std::string(shadow::kTelemetryTopic), 0,
          (*keys)->Sign(shadow::EncodeTelemetry(BadWindow())));
  EXPECT_TRUE(WaitFor([&] { return server_->control_metrics()->telemetry_windows >= 1; }, 20s));
}

// A forged cmo.flags snapshot with a huge revision would have won on every client.
TEST_F(ForgedMessagesTest, AForgedFlagSnapshotNeverWinsOnAClient) {
  shadow::ClientConfig cc;
  cc.state_dir = state_dir_;
  cc.region = "eu-west";
  cc.flags_from_kafka = true;
  auto client = shadow::Client::Open(cc);
  ASSERT_TRUE(client.ok()) << client.status();
  const int64_t real = (*client)->stats().snapshot_revision;
  ASSERT_GT(real, 0);
  const std::string forged = R"({"v":1,"revision":999999999999,"published_ms":1,"flags":[]})";
  Produce(std::string(shadow::kFlagsTopic), 0, forged);
  auto keys = base::KeyRing::Load(base::MessageKeyPath(state_dir_));
  ASSERT_TRUE(keys.ok());
  // Signed, but a revision no sequence of real changes reaches from here.
  Produce(std::string(shadow::kFlagsTopic), 0, (*keys)->Sign(forged));
  ASSERT_TRUE(WaitFor([&] { return (*client)->stats().flag_snapshots_refused >= 2; }, 20s))
      << (*client)->stats().flag_snapshots_refused;
  EXPECT_EQ((*client)->stats().snapshot_revision, real);
  EXPECT_TRUE((*client)->evaluator().Current()->Find("post.like") != nullptr)
      << "still routing on the real flags";
}

TEST(MessageAuth, SignVerifyAndRotate) {
  const auto old_ring = base::KeyRing::FromKeys({{"k1", std::string(32, 'a')}});
  const auto both =
      base::KeyRing::FromKeys({{"k2", std::string(32, 'b')}, {"k1", std::string(32, 'a')}});
  const std::string msg = R"({"v":1,"x":"y"})";
  const std::string by_old = old_ring->Sign(msg);
  EXPECT_THAT(by_old, ::testing::StartsWith(R"({"v":1,"x":"y","sig":"k1:)"));
  EXPECT_EQ(*both->Verify(by_old), msg) << "a rotated-in ring still verifies the old key";
  EXPECT_EQ(old_ring->Verify(both->Sign(msg)).status().code(), absl::StatusCode::kUnauthenticated)
      << "a key the ring lacks";
  std::string tampered = by_old;
  tampered[8] = 'z';
  EXPECT_EQ(old_ring->Verify(tampered).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(old_ring->Verify(msg).status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace cmo::orchestrator
