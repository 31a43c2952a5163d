// Per-request telemetry lookup: TelemetryRecorder::For, with each request thread cycling
// through 1, 4 or 12 ops, on 1 and 2 threads. A lookup the per-thread cache cannot answer takes
// the recorder's lock. (Counting itself is an atomic add on the op's shared counters.)
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "shadow/telemetry.h"

namespace cmo::shadow {
namespace {

TelemetryRecorder& Recorder() {
  static TelemetryRecorder* r = new TelemetryRecorder();
  return *r;
}

void BM_For(benchmark::State& state) {
  std::vector<std::string> ops;
  for (int i = 0; i < state.range(0); ++i) ops.push_back("comment." + std::to_string(i) + ".read");
  TelemetryRecorder& rec = Recorder();
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(rec.For(ops[next]));
    next = next + 1 == ops.size() ? 0 : next + 1;
  }
}
BENCHMARK(BM_For)->ArgName("ops")->Arg(1)->Arg(4)->Arg(12)->Threads(1)->Threads(2);

}  // namespace
}  // namespace cmo::shadow

BENCHMARK_MAIN();
