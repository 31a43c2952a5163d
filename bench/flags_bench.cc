// Routing decision cost: FlagEvaluator::Decide (lock-free snapshot) against a naive baseline
// (mutex + std::map), at 1 and 2 threads, counting heap allocations per decision.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "flags/bucketing.h"
#include "flags/snapshot.h"

// Every heap allocation is counted per thread, so a Decide that allocates shows up (and the
// benchmark framework's own allocations on other threads do not).
static thread_local uint64_t g_allocations = 0;
void* operator new(size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace cmo::flags {
namespace {

// 50 ops as a mid-size app would have; the one under test is ramped to 10% with 1% shadow.
std::vector<Flag> Flags() {
  std::vector<Flag> flags;
  for (int i = 0; i < 50; ++i) {
    Flag f;
    f.op = i == 0 ? "post.like" : "op." + std::to_string(i) + ".read";
    f.domain = "domain" + std::to_string(i % 7);
    f.salt = f.domain;
    f.target.model = Model::kEventual;
    f.stage = Stage::kRamp;
    f.ramp_bp = 1000;
    f.shadow_bp = 100;
    flags.push_back(f);
  }
  return flags;
}

const std::vector<std::string>& Subjects() {
  static const auto* subjects = [] {
    auto* v = new std::vector<std::string>();
    for (int i = 0; i < 4096; ++i) v->push_back("user-" + std::to_string(1'000'000 + i * 7919));
    return v;
  }();
  return *subjects;
}

FlagEvaluator& Evaluator() {
  static FlagEvaluator* ev = new FlagEvaluator(std::make_shared<Snapshot>(1, Flags()));
  return *ev;
}

void BM_Decide(benchmark::State& state) {
  const FlagEvaluator& ev = Evaluator();
  const auto& subjects = Subjects();
  size_t i = static_cast<size_t>(state.thread_index()) * 997;
  ev.Decide("post.like", subjects[0]);  // pin the snapshot before measuring
  const uint64_t allocs_before = g_allocations;
  int64_t eventual = 0;
  for (auto _ : state) {
    const Decision d = ev.Decide("post.like", subjects[i++ & 4095]);
    eventual += d.path == Path::kEventual;
    benchmark::DoNotOptimize(d);
  }
  const uint64_t allocs = g_allocations - allocs_before;
  state.counters["allocs_per_decision"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
  state.counters["eventual_share"] =
      benchmark::Counter(static_cast<double>(eventual) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_Decide)->Threads(1)->Threads(2)->UseRealTime();

// The same op listing a super-user tier the size plans allow: 10,000 listed subjects, 100
// heaviest writers and two rules. Every request passes a context of three attributes (the rules
// read it); 1 in 64 subjects is a member by the list.
FlagEvaluator& TierEvaluator() {
  static FlagEvaluator* ev = [] {
    Tier t;
    t.plan = "social";
    t.name = "super_users";
    t.target = {Model::kBoundedStaleness, absl::Seconds(1)};
    t.ops = {"post.like"};
    for (int i = 0; i < kMaxTierSubjects; ++i)
      t.subjects.push_back("celebrity-" + std::to_string(i));
    for (size_t i = 0; i < Subjects().size(); i += 64) t.subjects[i] = Subjects()[i];
    t.when = {"followers >= 100000", "regions_reached >= 3 and followers >= 10000"};
    t.top_k = 100;
    for (int i = 0; i < 100; ++i) t.heavy.push_back("heavy-" + std::to_string(i));
    return new FlagEvaluator(
        std::make_shared<Snapshot>(1, Flags(), std::vector<Override>{}, std::vector<Tier>{t}));
  }();
  return *ev;
}

void BM_DecideWithTiers(benchmark::State& state) {
  const FlagEvaluator& ev = TierEvaluator();
  const auto& subjects = Subjects();
  const Attribute context[] = {{"followers", "2315"}, {"regions_reached", "1"}, {"country", "br"}};
  OpMemo memo;
  size_t i = static_cast<size_t>(state.thread_index()) * 997;
  ev.Decide("post.like", subjects[0], memo, context);
  const uint64_t allocs_before = g_allocations;
  int64_t members = 0;
  for (auto _ : state) {
    const Decision d = ev.Decide("post.like", subjects[i++ & 4095], memo, context);
    members += d.tier != nullptr;
    benchmark::DoNotOptimize(d);
  }
  const uint64_t allocs = g_allocations - allocs_before;
  state.counters["allocs_per_decision"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
  state.counters["member_share"] =
      benchmark::Counter(static_cast<double>(members) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_DecideWithTiers)->Threads(1)->UseRealTime();

// The baseline a hand-rolled flag system starts with: one mutex around a std::map.
class NaiveFlags {
 public:
  explicit NaiveFlags(const std::vector<Flag>& flags) {
    for (const Flag& f : flags) by_op_[f.op] = {SaltSeed(f.salt), EffectiveEventualBp(f)};
  }
  Path Decide(std::string_view op, std::string_view subject) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_op_.find(op);
    if (it == by_op_.end()) return Path::kStrong;
    return static_cast<int32_t>(BucketWithSeed(it->second.first, subject)) < it->second.second
               ? Path::kEventual
               : Path::kStrong;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<uint64_t, int32_t>, std::less<>> by_op_;
};

void BM_DecideNaive(benchmark::State& state) {
  static NaiveFlags* naive = new NaiveFlags(Flags());
  const auto& subjects = Subjects();
  size_t i = static_cast<size_t>(state.thread_index()) * 997;
  const uint64_t allocs_before = g_allocations;
  for (auto _ : state) benchmark::DoNotOptimize(naive->Decide("post.like", subjects[i++ & 4095]));
  const uint64_t allocs = g_allocations - allocs_before;
  state.counters["allocs_per_decision"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_DecideNaive)->Threads(1)->Threads(2)->UseRealTime();

// Decide while a background thread installs new snapshots back to back (far more churn than
// any real control plane produces): what a reader pays for re-pinning after installs.
void BM_DecideDuringInstalls(benchmark::State& state) {
  FlagEvaluator ev(std::make_shared<Snapshot>(1, Flags()));
  const std::shared_ptr<const Snapshot> a = std::make_shared<Snapshot>(2, Flags());
  const std::shared_ptr<const Snapshot> b = std::make_shared<Snapshot>(3, Flags());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> installs{0};
  std::thread installer([&] {
    for (int64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
      ev.Install(n % 2 == 0 ? a : b);
      installs.fetch_add(1, std::memory_order_relaxed);
    }
  });
  const auto& subjects = Subjects();
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ev.Decide("post.like", subjects[i++ & 4095]));
  stop = true;
  installer.join();
  state.counters["installs_per_s"] =
      benchmark::Counter(static_cast<double>(installs.load()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecideDuringInstalls)->UseRealTime();

}  // namespace
}  // namespace cmo::flags

BENCHMARK_MAIN();
