// The client shared by many request threads while its background threads (flag refresh,
// watermark and LSN sampling, telemetry cuts, shadow comparison) run: no lost counts, no torn
// state (run under ThreadSanitizer in CI).
#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "shadow/client.h"
#include "tests/fakes/wait.h"
#include "tests/shadow/client_harness.h"

namespace cmo::shadow {
namespace {

TEST(ClientConcurrencyTest, RequestThreadsAndBackgroundWorkShareTheClient) {
  ::cmo::testing::ClientHarness h(base::SystemClock());
  h.SetOp("comment.post", "comments", "read_your_writes", flags::Stage::kStrong);
  h.SetOp("comment.read", "comments", "read_your_writes", flags::Stage::kRamp, 5000, 2000);
  ClientConfig config = h.Config();
  config.background = true;
  config.max_wait = absl::Milliseconds(1);
  config.staleness_window = absl::Milliseconds(20);
  config.telemetry_window = absl::Milliseconds(10);
  auto client = Client::Open(config);
  ASSERT_TRUE(client.ok()) << client.status();

  constexpr int kThreads = 4;
  constexpr int kOps = 400;
  std::atomic<int> reads{0}, writes{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string token;
      const std::string subject = "user-" + std::to_string(t);
      for (int i = 0; i < kOps; ++i) {
        const std::string key = "c-" + std::to_string(i % 10);
        if (i % 4 == 0) {
          auto w = (*client)->Write("comment.post", subject, key, "v" + std::to_string(i), token);
          if (!w.ok()) {
            ++errors;
            continue;
          }
          token = w->token;
          ++writes;
        } else {
          auto r = (*client)->Read("comment.read", subject, key, token);
          if (!r.ok()) {
            ++errors;
            continue;
          }
          token = r->token;
          ++reads;
        }
      }
    });
  }
  // Meanwhile an operator changes the flag and the replica catches up now and then.
  for (int i = 0; i < 5; ++i) {
    h.SetOp("comment.read", "comments", "read_your_writes", flags::Stage::kRamp, 5000 + i * 100,
            2000);
    h.ReplicateThrough(h.primary().LastLsn().value(), {"comments"});
    absl::SleepFor(absl::Milliseconds(20));
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(writes.load(), kThreads * kOps / 4);
  EXPECT_EQ(reads.load(), kThreads * kOps * 3 / 4);
  EXPECT_EQ(h.primary().LastLsn().value(), kThreads * kOps / 4) << "every write committed once";
  const int64_t revision = h.flags().Revision().value();
  EXPECT_TRUE(
      ::cmo::testing::WaitFor([&] { return (*client)->stats().snapshot_revision == revision; },
                              std::chrono::milliseconds(5000)))
      << "the background refresh picks up the last flag change";
}

// Consistent-prefix reads of dependent rows from many threads while new snapshots arrive (each
// rebuilds the set of domain watermarks those reads check) and the replica catches up.
TEST(ClientConcurrencyTest, ConsistentPrefixReadsWhileSnapshotsAndWatermarksMove) {
  ::cmo::testing::ClientHarness h(base::SystemClock());
  h.SetOp("post.create", "posts", "read_your_writes", flags::Stage::kStrong);
  h.SetOp("reply.create", "replies", "read_your_writes", flags::Stage::kStrong);
  h.SetOp("reply.read", "replies", "consistent_prefix", flags::Stage::kEventual);
  ClientConfig config = h.Config();
  config.background = true;
  config.max_wait = absl::Milliseconds(1);
  config.flag_poll = absl::Milliseconds(5);
  auto client = Client::Open(config);
  ASSERT_TRUE(client.ok()) << client.status();
  constexpr int kReplies = 20;
  for (int i = 0; i < kReplies; ++i) {
    auto post = (*client)->Write("post.create", "u", "p-" + std::to_string(i), "post");
    ASSERT_TRUE(post.ok()) << post.status();
    ASSERT_TRUE(
        (*client)
            ->Write("reply.create", "u", "r-" + std::to_string(i), "reply", "", {}, post->lsn)
            .ok());
  }
  std::atomic<int> found{0}, errors{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !done.load(); ++i) {
        auto r = (*client)->Read("reply.read", "reader-" + std::to_string(t),
                                 "r-" + std::to_string(i % kReplies));
        if (!r.ok()) {
          ++errors;
        } else if (r->value.has_value()) {
          ++found;
        }
      }
    });
  }
  // New snapshots (another op added each time) and the replica catching up in steps.
  for (int i = 0; i < 5; ++i) {
    h.SetOp("extra.read-" + std::to_string(i), "extra", "eventual", flags::Stage::kStrong);
    h.ReplicateThrough(h.primary().LastLsn().value() * (i + 1) / 5, {"posts", "replies", "extra"});
    absl::SleepFor(absl::Milliseconds(10));
  }
  done = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(found.load(), 0) << "the readers ran while the replica caught up";
  // Caught up in the end: every reply and its post are on the replica, which serves them.
  for (int i = 0; i < kReplies; ++i) {
    auto r = (*client)->Read("reply.read", "reader", "r-" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, "reply");
    EXPECT_EQ(r->path, flags::Path::kEventual) << i;
  }
}

}  // namespace
}  // namespace cmo::shadow
