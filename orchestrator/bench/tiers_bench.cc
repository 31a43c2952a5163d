#include "orchestrator/bench/tiers_bench.h"

#include <atomic>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "orchestrator/bench/bench_util.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/server.h"
#include "shadow/client.h"

namespace cmo::orchestrator {
namespace {
constexpr char kOp[] = "reply.post";
constexpr char kDomain[] = "replies";
}  // namespace

absl::StatusOr<nlohmann::json> RunTiersBench(const TiersBenchOptions& o) {
  if (o.regions < 1 || o.notifications < 1 || o.bulk_writes_per_s < 0) {
    return absl::InvalidArgumentError(
        "--regions and --notifications must be at least 1, --bulk-writes-per-s at least 0");
  }
  CMO_ASSIGN_OR_RETURN(ScopedTempDir tmp, ScopedTempDir::Make(o.work_dir));
  const std::string dir = tmp.path() + "/state";
  {
    CMO_ASSIGN_OR_RETURN(auto state, OpenControlState(dir, /*create=*/true, base::SystemClock()));
    flags::Flag f;
    f.op = kOp;
    f.domain = kDomain;
    f.target.model = flags::Model::kEventual;
    CMO_RETURN_IF_ERROR(state->flags->Add(f, {"bench", "cmo bench tiers", "add", false}).status());
  }
  ServeConfig config;
  config.state_dir = dir;
  for (int r = 0; r < o.regions; ++r) config.regions.push_back(base::StrCat("region-", r));
  CMO_ASSIGN_OR_RETURN(auto server, Server::Start(config, base::SystemClock()));
  absl::Cleanup stop_server = [&] { server->Stop().IgnoreError(); };
  shadow::ClientConfig cc;
  cc.state_dir = dir;
  cc.region = config.regions[0];
  cc.synchronous_full = false;
  CMO_ASSIGN_OR_RETURN(std::unique_ptr<shadow::Client> client, shadow::Client::Open(cc));

  std::atomic<bool> stop{false};
  std::atomic<int64_t> bulk{0};
  absl::Status bulk_error;
  std::thread writer([&] {
    if (o.bulk_writes_per_s == 0) return;
    const absl::Duration every = absl::Seconds(1) / o.bulk_writes_per_s;
    absl::Time next = absl::Now();
    for (int64_t i = 0; !stop.load(); ++i) {
      absl::StatusOr<shadow::WriteResult> w =
          client->Write(kOp, base::StrCat("user-", i % 10'000), base::StrCat("bulk-", i), "v");
      if (!w.ok()) {
        bulk_error = w.status();
        return;
      }
      ++bulk;
      next += every;
      absl::SleepFor(next - absl::Now());
    }
  });
  absl::Cleanup join = [&] {
    stop = true;
    writer.join();
  };
  std::vector<double> delays_ms;
  for (int i = 0; i < o.notifications; ++i) {
    const auto start = BenchClock::now();
    CMO_ASSIGN_OR_RETURN(shadow::WriteResult w,
                         client->Write(kOp, "celebrity-1", base::StrCat("reply-", i), "hello"));
    CMO_RETURN_IF_ERROR(client->WaitConverged(w.token, absl::Seconds(30)));
    delays_ms.push_back(Seconds(BenchClock::now() - start) * 1000);
    absl::SleepFor(absl::Milliseconds(10));  // notifications apart, not back to back
  }
  std::move(join).Invoke();
  CMO_RETURN_IF_ERROR(bulk_error);
  CMO_RETURN_IF_ERROR(server->error());
  return nlohmann::json{
      {"notify_delay_p50_ms", Percentile(delays_ms, 0.50)},
      {"notify_delay_p99_ms", Percentile(delays_ms, 0.99)},
      {"notify_delay_max_ms", Percentile(delays_ms, 1.0)},
      {"notifications", o.notifications},
      {"regions", o.regions},
      {"bulk_writes_per_s", o.bulk_writes_per_s},
      {"bulk_writes", bulk.load()},
      {"priority_lag_p99_ms", nullptr},
      {"bulk_lag_p99_ms", nullptr},
      {"not_measured",
       "priority_lag_p99_ms and bulk_lag_p99_ms: the priority replication channel (issue #21 "
       "part 2) is not built"}};
}

}  // namespace cmo::orchestrator
