#include "orchestrator/bench/writers_bench.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "base/clock.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "orchestrator/bench/bench_util.h"
#include "store/primary_store.h"

namespace cmo::orchestrator {
namespace {

store::StoreOptions BenchStore(const std::string& schema) {
  store::StoreOptions so;
  so.pg_schema = schema;
  return so;
}

struct ClientResult {
  int64_t writes = 0;
  std::vector<double> latency_ms;
};

absl::StatusOr<ClientResult> ReadResult(const std::string& path) {
  std::ifstream in(path);
  ClientResult r;
  if (!(in >> r.writes)) {
    return absl::InternalError(base::StrCat("writer process left no result in ", path));
  }
  double us;
  while (in >> us) r.latency_ms.push_back(us / 1000);
  return r;
}

// One step: `n` processes for o.seconds. Returns its JSON row.
absl::StatusOr<nlohmann::json> RunStep(const WritersBenchOptions& o, const std::string& schema,
                                       const std::string& dir, store::PrimaryStore& primary,
                                       int n) {
  CMO_ASSIGN_OR_RETURN(const int64_t lsn_before, primary.LastLsn());
  const std::string binary = o.cmo_binary.empty() ? "/proc/self/exe" : o.cmo_binary;
  // Every process connects first; all start writing at the same moment.
  const int64_t start_ms = absl::ToUnixMillis(absl::Now() + absl::Seconds(2));
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    CMO_ASSIGN_OR_RETURN(pid_t pid, Spawn({binary,
                                           "bench",
                                           "writers-client",
                                           "--primary",
                                           o.primary_url,
                                           "--schema",
                                           schema,
                                           "--start-ms",
                                           std::to_string(start_ms),
                                           "--seconds",
                                           std::to_string(o.seconds),
                                           "--batch",
                                           std::to_string(o.batch),
                                           "--keys",
                                           std::to_string(o.keys),
                                           "--value-bytes",
                                           std::to_string(o.value_bytes),
                                           "--seed",
                                           std::to_string(i + 1),
                                           "--out",
                                           base::StrCat(dir, "/writer-", n, "-", i)}));
    pids.push_back(pid);
  }
  absl::Status failed;
  for (pid_t pid : pids) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      failed = absl::InternalError(base::StrCat("writer process ", pid, " failed (status ", status,
                                                "); its error is above"));
    }
  }
  CMO_RETURN_IF_ERROR(failed);
  int64_t writes = 0;
  std::vector<double> latencies;
  for (int i = 0; i < n; ++i) {
    CMO_ASSIGN_OR_RETURN(ClientResult r, ReadResult(base::StrCat(dir, "/writer-", n, "-", i)));
    writes += r.writes;
    latencies.insert(latencies.end(), r.latency_ms.begin(), r.latency_ms.end());
  }
  CMO_ASSIGN_OR_RETURN(const int64_t lsn_after, primary.LastLsn());
  if (lsn_after - lsn_before != writes) {
    return absl::DataLossError(base::StrCat("the writers acknowledged ", writes,
                                            " writes but the primary's LSN moved by ",
                                            lsn_after - lsn_before));
  }
  nlohmann::json j;
  j["processes"] = n;
  j["writes_per_s"] = std::round(static_cast<double>(writes) / o.seconds);
  j["commits_per_s"] = std::round(static_cast<double>(latencies.size()) / o.seconds);
  j["commit_p50_ms"] = std::round(Percentile(latencies, 0.5) * 100) / 100;
  j["commit_p99_ms"] = std::round(Percentile(latencies, 0.99) * 100) / 100;
  return j;
}

}  // namespace

absl::StatusOr<nlohmann::json> RunWritersBench(const WritersBenchOptions& o) {
  if (o.primary_url.empty()) {
    return absl::InvalidArgumentError("--primary postgresql://... is required");
  }
  CMO_ASSIGN_OR_RETURN(const ScopedTempDir temp, ScopedTempDir::Make("/tmp"));
  const std::string schema = base::StrCat("cmo_bench_writers_", ::getpid());
  const DropSchemas drop{{o.primary_url}, schema};
  // Creates the schema before the writers race to.
  CMO_ASSIGN_OR_RETURN(auto primary, store::PrimaryStore::Open(o.primary_url, base::SystemClock(),
                                                               BenchStore(schema)));
  nlohmann::json steps = nlohmann::json::array();
  for (int n : o.processes) {
    CMO_ASSIGN_OR_RETURN(nlohmann::json step, RunStep(o, schema, temp.path(), *primary, n));
    steps.push_back(std::move(step));
  }
  nlohmann::json j;
  j["batch"] = o.batch;
  j["seconds_per_step"] = o.seconds;
  j["value_bytes"] = o.value_bytes;
  j["steps"] = std::move(steps);
  return j;
}

absl::Status RunWritersClient(const WritersClientOptions& o) {
  CMO_ASSIGN_OR_RETURN(auto primary, store::PrimaryStore::Open(o.primary_url, base::SystemClock(),
                                                               BenchStore(o.schema)));
  std::mt19937_64 rng(o.seed);
  std::string value(static_cast<size_t>(o.value_bytes), 'v');
  std::vector<store::WriteRequest> batch(static_cast<size_t>(o.batch));
  std::vector<int64_t> latency_us;
  int64_t writes = 0;
  absl::SleepFor(absl::FromUnixMillis(o.start_unix_ms) - absl::Now());
  const absl::Time end = absl::FromUnixMillis(o.start_unix_ms) + absl::Seconds(o.seconds);
  while (absl::Now() < end) {
    for (store::WriteRequest& w : batch) {
      value[rng() % value.size()] = static_cast<char>('a' + rng() % 26);
      w = {"items", base::StrCat("key-", rng() % static_cast<uint64_t>(o.keys)),
           value,   false,
           "bench", "bench"};
    }
    const absl::Time t = absl::Now();
    CMO_RETURN_IF_ERROR(primary->Write(batch).status());
    latency_us.push_back(absl::ToInt64Microseconds(absl::Now() - t));
    writes += o.batch;
  }
  std::ofstream out(o.out);
  out << writes << "\n";
  for (int64_t us : latency_us) out << us << "\n";
  out.close();
  if (!out) return absl::InternalError(base::StrCat("cannot write ", o.out));
  return absl::OkStatus();
}

}  // namespace cmo::orchestrator
