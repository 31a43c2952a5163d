#include "orchestrator/bench/breaker_bench.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "base/kafka_admin.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "orchestrator/bench/bench_util.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/server.h"
#include "shadow/change_event.h"
#include "shadow/client.h"
#include "shadow/state_layout.h"
#include "shadow/telemetry.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::orchestrator {
namespace {

constexpr char kOp[] = "bench.read";
constexpr char kDomain[] = "items";

// On a real cluster a domain of this run's own: the broker keeps other runs' change logs,
// whose LSNs would mean nothing to this run's stores.
std::string DomainFor(const BreakerBenchOptions& o) {
  return o.kafka.empty() ? kDomain : base::StrCat(kDomain, "_", ::getpid());
}
constexpr char kRegion[] = "eu-west";

std::string Key(int i) { return base::StrCat("item-", i); }
int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

struct ClientEvent {
  int64_t at_ms;
  flags::BreakerState state;
};

// Reads the events a client process has logged so far.
std::vector<ClientEvent> ReadEvents(const std::string& path) {
  std::vector<ClientEvent> out;
  std::ifstream in(path);
  int64_t ms, revision;
  std::string state;
  while (in >> ms >> state >> revision) {
    absl::StatusOr<flags::BreakerState> s = flags::ParseBreakerState(state);
    if (s.ok()) out.push_back({ms, *s});
  }
  return out;
}

// The state a client routed by last, and since when.
std::optional<ClientEvent> LastEvent(const std::string& path) {
  std::vector<ClientEvent> e = ReadEvents(path);
  if (e.empty()) return std::nullopt;
  return e.back();
}

absl::Status WaitUntil(absl::Duration timeout, const std::string& what,
                       const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          base::StrCat("timed out after ", absl::FormatDuration(timeout), " waiting for ", what));
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunBreakerClient(const BreakerClientOptions& o) {
  shadow::ClientConfig config;
  config.state_dir = o.state_dir;
  config.region = o.region;
  config.flags_from_kafka = true;
  config.synchronous_full = false;
  config.flag_poll = absl::Milliseconds(10);
  config.telemetry_window = absl::Milliseconds(100);
  config.staleness_window = absl::Milliseconds(100);
  CMO_ASSIGN_OR_RETURN(auto client, shadow::Client::Open(config));
  std::ofstream out(o.out, std::ios::app);
  std::mt19937_64 rng(static_cast<uint64_t>(::getpid()));
  const absl::Time end = absl::Now() + absl::Seconds(o.seconds);
  const absl::Duration pace = absl::Seconds(1) / std::max(1, o.reads_per_s);
  std::optional<flags::BreakerState> last;
  absl::Time next = absl::Now();
  while (absl::Now() < end) {
    const flags::Flag* f = nullptr;
    std::shared_ptr<const flags::Snapshot> snap = client->evaluator().Current();
    f = snap->Find(o.op);
    if (f != nullptr && f->breaker != last) {
      last = f->breaker;
      out << NowMs() << " " << flags::BreakerStateName(*last) << " " << snap->revision()
          << std::endl;
    }
    const std::string subject = base::StrCat("user-", rng() % 100'000);
    CMO_RETURN_IF_ERROR(
        client->Read(o.op, subject, Key(static_cast<int>(rng() % static_cast<uint64_t>(o.keys))))
            .status());
    next += pace;
    const absl::Time now = absl::Now();
    if (next > now) absl::SleepFor(next - now);
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> RunBreakerBench(const BreakerBenchOptions& o) {
  CMO_ASSIGN_OR_RETURN(const ScopedTempDir temp, ScopedTempDir::Make(o.work_dir));
  const std::string& dir = temp.path();
  std::vector<pid_t> children;
  struct Reaper {  // declared after `temp`: the clients stop before their state dir goes
    std::vector<pid_t>* children;
    ~Reaper() {
      for (pid_t p : *children) {
        ::kill(p, SIGKILL);
        ::waitpid(p, nullptr, 0);
      }
    }
  } reaper{&children};

  // The op, in ramp at 100% with every read compared; the built-in default budget (divergence
  // <= 0.01%, at least 1000 samples).
  {
    CMO_ASSIGN_OR_RETURN(auto state, OpenControlState(dir, /*create=*/true, base::SystemClock()));
    flags::Flag f;
    f.op = kOp;
    f.domain = DomainFor(o);
    f.target.model = flags::Model::kEventual;
    const flags::ChangeContext ctx{"bench", "cmo bench breaker", "add", false};
    CMO_RETURN_IF_ERROR(state->flags->Add(f, ctx).status());
    CMO_RETURN_IF_ERROR(state->flags
                            ->Update(kOp, ctx,
                                     [](flags::Flag& fl) {
                                       fl.stage = flags::Stage::kRamp;
                                       fl.ramp_bp = 10000;
                                       fl.shadow_bp = 10000;
                                       return absl::OkStatus();
                                     })
                            .status());
  }
  std::vector<std::pair<std::string, std::string>> values;  // key -> value on the primary
  {
    CMO_ASSIGN_OR_RETURN(auto primary,
                         store::PrimaryStore::Open(shadow::PrimaryPath(dir), base::SystemClock(),
                                                   {.synchronous_full = false}));
    std::vector<store::WriteRequest> batch;
    for (int i = 0; i < o.keys; ++i) {
      values.emplace_back(Key(i), base::StrCat("value-", i));
      batch.push_back({DomainFor(o), Key(i), values.back().second, false, "bench.write", "bench"});
    }
    CMO_RETURN_IF_ERROR(primary->Write(batch).status());
  }
  ServeConfig config;
  config.state_dir = dir;
  config.regions = {kRegion};
  std::unique_ptr<base::KafkaAdmin> admin;
  if (!o.kafka.empty()) {
    config.kafka_brokers = o.kafka;  // clients find it in STATE/kafka.bootstrap
    CMO_ASSIGN_OR_RETURN(admin, base::KafkaAdmin::Create({{"bootstrap.servers", o.kafka}}));
  }
  absl::Cleanup drop_topic = [&] {
    if (admin != nullptr) {
      admin->DeleteTopic(shadow::ChangeTopic(DomainFor(o)), 15000).IgnoreError();
    }
  };
  config.control.evaluate_every = absl::Milliseconds(20);
  config.control.budget.short_window = absl::Seconds(2);
  config.control.budget.long_window = absl::Seconds(20);
  config.control.budget.breaker = {absl::Seconds(1), absl::Seconds(10), absl::Seconds(1)};
  CMO_ASSIGN_OR_RETURN(auto server, Server::Start(config, base::SystemClock()));
  CMO_RETURN_IF_ERROR(WaitUntil(absl::Seconds(30), "the replica to apply the initial rows", [&] {
    auto r = server->regions();
    return !r.empty() && r[0].watermark >= o.keys;
  }));

  const std::string binary = o.cmo_binary.empty() ? "/proc/self/exe" : o.cmo_binary;
  std::vector<std::string> logs;
  for (int c = 0; c < o.clients; ++c) {
    logs.push_back(base::StrCat(dir, "/client-", c, ".events"));
    CMO_ASSIGN_OR_RETURN(pid_t pid,
                         Spawn({binary, "--state-dir", dir, "bench", "breaker-client", "--op", kOp,
                                "--keys", base::StrCat(o.keys), "--reads-per-s",
                                base::StrCat(o.reads_per_s), "--out", logs.back()}));
    children.push_back(pid);
  }
  auto all_clients = [&](flags::BreakerState state, int64_t after_ms, int64_t* latest) {
    *latest = 0;
    for (const std::string& log : logs) {
      std::optional<ClientEvent> e = LastEvent(log);
      if (!e.has_value() || e->state != state || e->at_ms < after_ms) return false;
      *latest = std::max(*latest, e->at_ms);
    }
    return true;
  };
  int64_t unused = 0;
  CMO_RETURN_IF_ERROR(WaitUntil(absl::Seconds(30), "every client to start routing", [&] {
    return all_clients(flags::BreakerState::kClosed, 0, &unused);
  }));

  // Warm-up: the budget needs its minimum sample count in the short window before any
  // verdict (a burst right at start would be measured against the count, not the loop).
  absl::SleepFor(config.control.budget.short_window * 1.5);
  absl::SleepFor(absl::Seconds(o.healthy_seconds));
  // Watches telemetry for the first window that reports the burst.
  CMO_ASSIGN_OR_RETURN(
      auto watch, base::KafkaConsumer::Create({{"bootstrap.servers", server->bootstrap_servers()},
                                               {"log_level", "0"},
                                               {"fetch.wait.max.ms", "10"}}));
  const std::string topic(shadow::kTelemetryTopic);
  CMO_ASSIGN_OR_RETURN(int partitions, watch->PartitionCount(topic, 5000));
  std::vector<base::TopicPartitionOffset> assignment;
  for (int32_t p = 0; p < partitions; ++p) {
    CMO_ASSIGN_OR_RETURN(auto marks, watch->Watermarks(topic, p, 5000));
    assignment.push_back({topic, p, marks.second});
  }
  CMO_RETURN_IF_ERROR(watch->Assign(assignment));

  CMO_ASSIGN_OR_RETURN(auto replica, store::ReplicaStore::Open(shadow::ReplicaPath(dir, kRegion),
                                                               {.synchronous_full = false}));
  std::mt19937_64 rng(42);
  int64_t stray_lsn = int64_t{1} << 40;  // above anything the primary will assign here
  std::vector<double> latencies;
  nlohmann::json timeline = nlohmann::json::array();
  for (int trip = 0; trip < o.trips; ++trip) {
    // Corrupt 10% of the rows: versions the primary never had, with other bytes.
    std::vector<store::Row> corrupt, repair;
    for (const auto& [key, value] : values) {
      if (rng() % 10 != 0) continue;
      ++stray_lsn;
      corrupt.push_back({DomainFor(o), key, "corrupted", stray_lsn, false, absl::Now()});
      repair.push_back(
          {DomainFor(o), key, value, stray_lsn + (int64_t{1} << 30), false, absl::Now()});
    }
    const int64_t injected_ms = NowMs();
    CMO_RETURN_IF_ERROR(RetryWhileBusy([&] { return replica->Apply(corrupt, {}).status(); }));
    int64_t first_bad_ms = 0;
    int64_t all_strong_ms = 0;
    CMO_RETURN_IF_ERROR(WaitUntil(absl::Seconds(30), "the breaker to open on every client", [&] {
      if (first_bad_ms == 0) {
        auto messages = watch->Poll(1000, 0);
        if (messages.ok()) {
          for (const base::KafkaMessage& m : *messages) {
            auto w = shadow::DecodeTelemetry(m.value);
            if (!w.ok()) continue;
            for (const shadow::OpWindow& op : w->ops) {
              const int64_t bad =
                  op.classes[static_cast<size_t>(shadow::MismatchClass::kDivergence)] +
                  op.classes[static_cast<size_t>(shadow::MismatchClass::kMissing)] +
                  op.classes[static_cast<size_t>(shadow::MismatchClass::kResurrected)];
              const int64_t end = absl::ToUnixMillis(w->end);
              if (bad > 0 && end >= injected_ms && (first_bad_ms == 0 || end < first_bad_ms)) {
                first_bad_ms = end;
              }
            }
          }
        }
      }
      return first_bad_ms > 0 &&
             all_clients(flags::BreakerState::kOpen, injected_ms, &all_strong_ms);
    }));
    latencies.push_back(static_cast<double>(all_strong_ms - first_bad_ms));
    timeline.push_back({{"injected_ms", injected_ms},
                        {"first_bad_window_ms", first_bad_ms},
                        {"all_strong_ms", all_strong_ms}});
    // Repair the replica: the primary's bytes again, so comparisons match.
    CMO_RETURN_IF_ERROR(RetryWhileBusy([&] { return replica->Apply(repair, {}).status(); }));
    CMO_RETURN_IF_ERROR(WaitUntil(absl::Seconds(60), "the breaker to probe and close", [&] {
      return all_clients(flags::BreakerState::kClosed, all_strong_ms, &unused);
    }));
    // Let the short window forget the burst before the next one.
    absl::SleepFor(config.control.budget.short_window);
  }
  // Every open transition in the audit log beyond the injected ones is a false trip.
  CMO_ASSIGN_OR_RETURN(auto state, OpenControlState(dir, false, base::SystemClock()));
  CMO_ASSIGN_OR_RETURN(auto history, state->flags->History(kOp, 100'000));
  int64_t opens = 0;
  nlohmann::json transitions = nlohmann::json::array();
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->actor != "breaker") continue;
    opens += it->action == "breaker_open" || it->action == "breaker_reopen";
    transitions.push_back(base::StrCat(absl::FormatTime("%H:%M:%E3S ", it->at, absl::UTCTimeZone()),
                                       it->action, ": ", it->reason));
  }
  for (pid_t p : children) ::kill(p, SIGTERM);
  const ControlLoopMetrics control = server->control_metrics().value_or(ControlLoopMetrics{});
  CMO_RETURN_IF_ERROR(server->Stop());
  nlohmann::json j;
  j["clients"] = o.clients;
  j["trips"] = latencies.size();
  j["healthy_seconds"] = o.healthy_seconds;
  j["false_trips"] = opens - static_cast<int64_t>(latencies.size());
  j["p50_ms"] = Percentile(latencies, 0.5);
  j["p99_ms"] = Percentile(latencies, 0.99);
  j["max_ms"] = latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
  j["latencies_ms"] = latencies;
  j["transitions"] = transitions;
  j["mismatches_logged"] = control.mismatches_logged;
  j["targeted_repairs"] = control.targeted_repairs;
  j["timeline"] = timeline;
  return j;
}

}  // namespace cmo::orchestrator
