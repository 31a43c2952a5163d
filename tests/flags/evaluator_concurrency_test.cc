// Readers hammer Decide() while a writer installs snapshots; run under ThreadSanitizer in CI.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "flags/snapshot.h"
#include "gtest/gtest.h"

namespace cmo::flags {
namespace {

// Snapshot r ramps both ops to r basis points: a reader that ever sees the two ops disagree,
// or a ramp go backwards, saw a torn or stale-after-fresh snapshot.
std::atomic<int64_t> g_live_snapshots{0};

std::shared_ptr<const Snapshot> SnapshotAt(int32_t r) {
  std::vector<Flag> flags;
  for (const char* op : {"post.like", "feed.read"}) {
    Flag f;
    f.op = op;
    f.domain = "likes";
    f.salt = "likes";
    f.target.model = Model::kEventual;
    f.stage = Stage::kRamp;
    f.ramp_bp = r;
    f.shadow_bp = 100;
    flags.push_back(f);
  }
  g_live_snapshots.fetch_add(1);
  return std::shared_ptr<const Snapshot>(new Snapshot(r, std::move(flags)), [](const Snapshot* p) {
    g_live_snapshots.fetch_sub(1);
    delete p;
  });
}

TEST(FlagEvaluatorConcurrency, ReadersNeverSeeTornOrRegressingSnapshots) {
  constexpr int32_t kRevisions = 20000;
  FlagEvaluator ev(SnapshotAt(0), /*seed=*/7);
  std::atomic<bool> done{false};
  std::atomic<int64_t> decisions{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      int32_t last = 0;
      const std::string subject = "user-" + std::to_string(t);
      while (!done.load(std::memory_order_acquire)) {
        const Decision a = ev.Decide("post.like", subject);
        const Decision b = ev.Decide("feed.read", subject);
        EXPECT_GE(a.threshold_bp, last);
        EXPECT_GE(b.threshold_bp, a.threshold_bp);
        last = b.threshold_bp;
        const auto snap = ev.Current();
        EXPECT_EQ(snap->Find("post.like")->ramp_bp, snap->Find("feed.read")->ramp_bp);
        decisions.fetch_add(2, std::memory_order_relaxed);
      }
    });
  }
  while (decisions.load() < 1000) std::this_thread::yield();  // readers are running
  for (int32_t r = 1; r <= kRevisions; ++r) ev.Install(SnapshotAt(r));
  // Let the readers run on the final snapshot for a while before stopping them.
  const int64_t at_final = decisions.load();
  while (decisions.load() < at_final + 10'000) std::this_thread::yield();
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  EXPECT_EQ(ev.Decide("post.like", "x").threshold_bp, kRevisions);
  EXPECT_GT(decisions.load(), 0);
  // Replaced snapshots are freed once no reader pins them: the readers have exited, so after
  // one more install only the current snapshot and the one this thread pins remain.
  ev.Install(SnapshotAt(kRevisions + 1));
  EXPECT_LE(g_live_snapshots.load(), 2);
}

}  // namespace
}  // namespace cmo::flags
