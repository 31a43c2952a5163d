// Load generator for fault tests: writes `total` changes (some deletes) to a primary store in
// batches at a paced rate, printing "W <last lsn>" after each commit and "DONE" at the end.
// Usage: primary_writer PRIMARY_DB TOTAL BATCH BATCHES_PER_SECOND KEYS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "store/primary_store.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s PRIMARY_DB TOTAL BATCH BATCHES_PER_SECOND KEYS\n", argv[0]);
    return 2;
  }
  const int total = std::atoi(argv[2]), batch = std::atoi(argv[3]);
  const int rate = std::atoi(argv[4]), keys = std::atoi(argv[5]);
  auto primary = cmo::store::PrimaryStore::Open(argv[1], cmo::base::SystemClock());
  if (!primary.ok()) {
    std::fprintf(stderr, "%s\n", std::string(primary.status().message()).c_str());
    return 1;
  }
  const auto pace = std::chrono::microseconds(1'000'000 / rate);
  auto next = std::chrono::steady_clock::now();
  for (int written = 0; written < total;) {
    std::vector<cmo::store::WriteRequest> w;
    for (int i = 0; i < batch && written < total; ++i, ++written) {
      const int k = static_cast<int>((written * 2654435761u) % static_cast<unsigned>(keys));
      w.push_back({k % 2 == 0 ? "likes" : "comments", "key-" + std::to_string(k),
                   "value-" + std::to_string(written), written % 13 == 0, "fault.test",
                   "user-" + std::to_string(k % 101)});
    }
    auto lsns = (*primary)->Write(w);
    if (!lsns.ok()) {
      std::fprintf(stderr, "%s\n", std::string(lsns.status().message()).c_str());
      return 1;
    }
    std::printf("W %lld\n", static_cast<long long>(lsns->back()));
    std::fflush(stdout);
    next += pace;
    std::this_thread::sleep_until(next);
  }
  std::printf("DONE\n");
  std::fflush(stdout);
  return 0;
}
