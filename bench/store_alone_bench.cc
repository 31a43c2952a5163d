// The stores alone, without relay, Kafka or applier: how fast the primary store (row, outbox
// row, digests) and the replica store (row, digests, partition progress) take the
// `cmo bench pipeline` workload — uniformly random keys over 1,000,000, 100-byte values,
// 10,000 changes per transaction — each alone and both at once on two threads. The pipeline can
// go no faster than its primary store; this tells how close it gets.
//
//   build/bench/store_alone_bench [seconds (default 30)] [primary|replica|both (default all)]
//
// Prints changes/s after a 5 s warm-up and the thread's CPU time per change.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "base/clock.h"
#include "base/strings.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBatch = 10'000;
constexpr uint64_t kKeys = 1'000'000;

double ThreadCpuSeconds() {
  rusage r{};
  getrusage(RUSAGE_THREAD, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// Calls `write_batch(first_lsn)` for `seconds`, then prints the rate and CPU per change over
// all but the first 5 s.
template <typename WriteBatch>
void Measure(const char* name, int seconds, WriteBatch write_batch) {
  int64_t n = 0, n_at_warm = 0;
  double cpu_at_warm = 0;
  const auto start = Clock::now();
  auto measure_start = start;
  bool warm = false;
  while (Clock::now() - start < std::chrono::seconds(seconds)) {
    if (!warm && Clock::now() - start >= std::chrono::seconds(5)) {
      warm = true;
      n_at_warm = n;
      cpu_at_warm = ThreadCpuSeconds();
      measure_start = Clock::now();
    }
    write_batch(n);
    n += kBatch;
  }
  const double s = std::chrono::duration<double>(Clock::now() - measure_start).count();
  const auto changes = static_cast<double>(n - n_at_warm);
  std::printf("%s: %.0f changes/s, %.1f us CPU per change (this thread)\n", name, changes / s,
              (ThreadCpuSeconds() - cpu_at_warm) / changes * 1e6);
}

void Die(const absl::Status& s) {
  std::fprintf(stderr, "store_alone_bench: %s\n", s.ToString().c_str());
  std::exit(1);
}

// The pipeline's workload: uniformly random keys, 100-byte values with one byte changed each.
class Workload {
 public:
  explicit Workload(uint64_t seed) : rng_(seed), value_(100, 'v') {}
  std::string Key() { return cmo::base::StrCat("key-", rng_() % kKeys); }
  const std::string& Value() {
    value_[rng_() % value_.size()] = static_cast<char>('a' + rng_() % 26);
    return value_;
  }

 private:
  std::mt19937_64 rng_;
  std::string value_;
};

void RunPrimary(const std::string& dir, int seconds) {
  auto primary = cmo::store::PrimaryStore::Open(dir + "/primary.db", cmo::base::SystemClock());
  if (!primary.ok()) Die(primary.status());
  Workload w(1);
  Measure("primary", seconds, [&](int64_t written) {
    std::vector<cmo::store::WriteRequest> batch;
    for (int i = 0; i < kBatch; ++i)
      batch.push_back({"bench", w.Key(), w.Value(), false, "bench", "s"});
    if (auto lsns = (*primary)->Write(batch); !lsns.ok()) Die(lsns.status());
    // The relay trims what every region applied; here every change counts as applied.
    if ((written / kBatch) % 10 == 9) {
      if (auto s = (*primary)->TrimOutbox(written + kBatch); !s.ok()) Die(s);
    }
  });
}

void RunReplica(const std::string& dir, int seconds) {
  auto replica = cmo::store::ReplicaStore::Open(dir + "/replica.db");
  if (!replica.ok()) Die(replica.status());
  Workload w(2);
  Measure("replica", seconds, [&](int64_t applied) {
    std::vector<cmo::store::Row> rows;
    for (int i = 0; i < kBatch; ++i) {
      rows.push_back({"bench", w.Key(), w.Value(), applied + i + 1, false, absl::Now()});
    }
    const cmo::store::PartitionProgress progress{"cmo.changes.bench",
                                                 static_cast<int32_t>(applied / kBatch % 4),
                                                 applied, applied + kBatch, 0};
    if (auto st = (*replica)->Apply(rows, {&progress, 1}); !st.ok()) Die(st.status());
  });
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 30;
  const std::string mode = argc > 2 ? argv[2] : "all";
  if (seconds < 6 || (mode != "primary" && mode != "replica" && mode != "both" && mode != "all")) {
    std::fprintf(stderr, "usage: store_alone_bench [seconds >= 6] [primary|replica|both|all]\n");
    return 2;
  }
  const std::string dir =
      (std::filesystem::temp_directory_path() / cmo::base::StrCat("cmo-store-alone-", ::getpid()))
          .string();
  auto fresh = [&] {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  };
  if (mode == "primary" || mode == "all") {
    fresh();
    RunPrimary(dir, seconds);
  }
  if (mode == "replica" || mode == "all") {
    fresh();
    RunReplica(dir, seconds);
  }
  if (mode == "both" || mode == "all") {
    fresh();
    std::thread p([&] { RunPrimary(dir, seconds); });
    std::thread r([&] { RunReplica(dir, seconds); });
    p.join();
    r.join();
  }
  std::filesystem::remove_all(dir);
  return 0;
}
