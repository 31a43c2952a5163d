// `cmo bench writers`: several app processes writing one PostgreSQL primary at once, as a
// fleet of app servers does. For each process count it starts that many writer processes
// (this binary, `bench writers-client`), each committing `batch` writes per transaction through
// PrimaryStore::Write for `seconds`, and reports acknowledged writes/s and commit latency. It
// checks that the primary's LSNs grew by exactly the number of acknowledged writes (nothing
// lost, nothing counted twice) — the writers serialize on the LSN counter row by design
// (store/README.md), and this shows what that costs as writers are added.
#ifndef CMO_ORCHESTRATOR_BENCH_WRITERS_BENCH_H_
#define CMO_ORCHESTRATOR_BENCH_WRITERS_BENCH_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cmo::orchestrator {

struct WritersBenchOptions {
  std::string primary_url;
  std::vector<int> processes = {1, 2, 4, 8};
  int seconds = 10;  // per process count
  int batch = 1;     // writes per transaction: an app request commits its own write
  int64_t keys = 1'000'000;
  int value_bytes = 100;
  std::string cmo_binary;  // default: this binary
};

absl::StatusOr<nlohmann::json> RunWritersBench(const WritersBenchOptions& options);

// One writer process of the bench (hidden subcommand `bench writers-client`): waits for
// start_unix_ms, writes for `seconds`, then writes "<writes> <latency_us>..." to `out`.
struct WritersClientOptions {
  std::string primary_url;
  std::string schema;
  int64_t start_unix_ms = 0;
  int seconds = 10;
  int batch = 1;
  int64_t keys = 1'000'000;
  int value_bytes = 100;
  uint64_t seed = 1;
  std::string out;
};

absl::Status RunWritersClient(const WritersClientOptions& options);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BENCH_WRITERS_BENCH_H_
