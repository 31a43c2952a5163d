// Converged notifications through a running `cmo serve` data path (embedded Kafka, three
// regions): WaitConverged returns once a write is applied in every region — and only then —
// a token from the future times out with a reason, and a forged mark (unsigned, or signed with
// another key) never releases a notification early.
#include "shadow/converged.h"

#include "base/kafka.h"
#include "base/message_auth.h"
#include "gtest/gtest.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/server.h"
#include "shadow/client.h"
#include "shadow/session_token.h"
#include "store/replica_store.h"
#include "tests/e2e/in_process_serve.h"
#include "tests/fakes/temp_dir.h"

namespace cmo::orchestrator {
namespace {

TEST(ConvergedEndToEnd, WaitConvergedReturnsOnceEveryRegionHasTheWrite) {
  const std::vector<std::string> regions = {"eu-west", "us-east", "ap-south"};
  cmo::testing::InProcessServe serve({"reply.post"}, "replies", flags::Stage::kStrong, regions);
  ASSERT_TRUE(serve.started());
  shadow::Client& c = serve.Client("eu-west");

  for (int i = 0; i < 20; ++i) {
    auto w = c.Write("reply.post", "u-1", "reply-" + std::to_string(i), "hello");
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE(c.WaitConverged(w->token, absl::Seconds(20)).ok());
    // Converged means every region's replica holds it now.
    for (const std::string& region : regions) {
      auto replica = store::ReplicaStore::Open(shadow::ReplicaPath(serve.state_dir(), region));
      ASSERT_TRUE(replica.ok()) << replica.status();
      auto row = (*replica)->Get("replies", "reply-" + std::to_string(i));
      ASSERT_TRUE(row.ok() && row->has_value()) << region << " lacks reply-" << i;
      EXPECT_EQ((**row).lsn, w->lsn);
    }
  }
  EXPECT_GE(c.stats().converged_lsn, 20);

  // A token from the future: no region has it, so it times out saying why.
  const std::string future = shadow::EncodeToken({1'000'000});
  absl::Status s = c.WaitConverged(future, absl::Milliseconds(300));
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_NE(s.message().find("not applied in every region"), std::string::npos) << s;
  EXPECT_TRUE(absl::IsInvalidArgument(c.WaitConverged("garbage", absl::Seconds(1))));

  // Forged marks claiming LSN 1,000,000: unsigned, and signed with a key not in the ring.
  auto producer = base::KafkaProducer::Create(
      {{"bootstrap.servers", serve.server().bootstrap_servers()}, {"log_level", "0"}},
      [](const base::DeliveryReport&) {});
  ASSERT_TRUE(producer.ok());
  shadow::ConvergedMark forged{1'000'000, absl::Now(), {}};
  const std::string topic(shadow::kConvergedTopic);
  ASSERT_TRUE((*producer)->Produce(topic, 0, "converged", shadow::EncodeConverged(forged), 0).ok());
  cmo::testing::TempDir other;
  auto stranger = base::KeyRing::LoadOrCreate(other.File("key"));
  ASSERT_TRUE(stranger.ok());
  ASSERT_TRUE(
      (*producer)
          ->Produce(topic, 0, "converged", (*stranger)->Sign(shadow::EncodeConverged(forged)), 0)
          .ok());
  ASSERT_TRUE((*producer)->Flush(5000).ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(c.WaitConverged(future, absl::Seconds(2))));
  EXPECT_LT(c.stats().converged_lsn, 1'000'000);
  // Still following the real marks: a new write converges.
  auto w = c.Write("reply.post", "u-1", "after", "x");
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(c.WaitConverged(w->token, absl::Seconds(20)).ok());
}

}  // namespace
}  // namespace cmo::orchestrator
