// Routing decision cost: FlagEvaluator::Decide (lock-free snapshot) against a naive baseline
// (mutex + std::map), at 1 and 2 threads, counting heap allocations per decision.
#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "flags/bucketing.h"
#include "flags/snapshot.h"

// Every heap allocation in the process is counted, so a Decide that allocates shows up.
static std::atomic<uint64_t> g_allocations{0};
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
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
  const uint64_t allocs_before = g_allocations.load();
  int64_t eventual = 0;
  for (auto _ : state) {
    const Decision d = ev.Decide("post.like", subjects[i++ & 4095]);
    eventual += d.path == Path::kEventual;
    benchmark::DoNotOptimize(d);
  }
  const uint64_t allocs = g_allocations.load() - allocs_before;
  state.counters["allocs_per_decision"] = benchmark::Counter(
      static_cast<double>(allocs) / static_cast<double>(state.iterations()),
      benchmark::Counter::kAvgThreads);
  state.counters["eventual_share"] = benchmark::Counter(
      static_cast<double>(eventual) / static_cast<double>(state.iterations()),
      benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_Decide)->Threads(1)->Threads(2)->UseRealTime();

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
  const uint64_t allocs_before = g_allocations.load();
  for (auto _ : state) benchmark::DoNotOptimize(naive->Decide("post.like", subjects[i++ & 4095]));
  const uint64_t allocs = g_allocations.load() - allocs_before;
  state.counters["allocs_per_decision"] = benchmark::Counter(
      static_cast<double>(allocs) / static_cast<double>(state.iterations()),
      benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_DecideNaive)->Threads(1)->Threads(2)->UseRealTime();

// Decide while another thread installs a new snapshot every 100 µs (flag churn under load).
void BM_DecideDuringInstalls(benchmark::State& state) {
  static FlagEvaluator* ev = new FlagEvaluator(std::make_shared<Snapshot>(1, Flags()));
  const auto& subjects = Subjects();
  size_t i = 0;
  if (state.thread_index() == 1) {
    int64_t revision = 2;
    for (auto _ : state) {
      ev->Install(std::make_shared<Snapshot>(revision++, Flags()));
      benchmark::DoNotOptimize(revision);
    }
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(ev->Decide("post.like", subjects[i++ & 4095]));
}
BENCHMARK(BM_DecideDuringInstalls)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace cmo::flags

BENCHMARK_MAIN();
