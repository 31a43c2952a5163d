#include "orchestrator/demo/demo.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/units.h"
#include "flags/transitions.h"
#include "orchestrator/api/local_api.h"
#include "orchestrator/bench/bench_util.h"
#include "orchestrator/bench/tiers_bench.h"
#include "orchestrator/control_service.h"
#include "orchestrator/demo/plan_compression.h"
#include "orchestrator/demo/workload.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/server.h"
#include "reconcile/divergence_log.h"
#include "reconcile/report.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::orchestrator {
namespace {

constexpr char kStoryOp[] = "like.count";  // the read op whose story the demo follows
constexpr char kFaultRegion[] = "eu-west";
constexpr char kSupportUser[] = "user-42";  // the user whose comment went missing

// The plan's holds up to its 50% step add up to 7.5 h; they play out in ~30% of the run.
constexpr double kHoldsToHalf = 7.5 * 3600;

class Narrator {
 public:
  Narrator(std::ostream& out, bool live, absl::Time start)
      : out_(out), live_(live), start_(start) {}
  void Say(std::string_view line) {
    if (live_) out_ << "\r\033[K";
    out_ << absl::StrFormat("[%5.1fs] ", Elapsed()) << line << "\n";
    if (live_) out_ << status_;
    out_.flush();
  }
  void Status(std::string line) {
    status_ = std::move(line);
    if (live_) {
      out_ << "\r\033[K" << status_ << std::flush;
    } else if (absl::Now() - last_plain_ >= absl::Seconds(5)) {
      last_plain_ = absl::Now();
      out_ << absl::StrFormat("[%5.1fs] ", Elapsed()) << status_ << "\n" << std::flush;
    }
  }
  void EndStatus() {
    if (live_) out_ << "\r\033[K" << std::flush;
  }
  double Elapsed() const { return absl::ToDoubleSeconds(absl::Now() - start_); }

 private:
  std::ostream& out_;
  bool live_;
  absl::Time start_;
  std::string status_;
  absl::Time last_plain_ = absl::InfinitePast();
};

std::string FlagWords(const flags::Flag& f) {
  std::string s = std::string(flags::StageName(f.stage));
  if (f.stage == flags::Stage::kRamp) s += " " + base::FormatBp(f.ramp_bp);
  if (f.stage == flags::Stage::kShadow) s += " " + base::FormatBp(f.shadow_bp);
  if (f.breaker != flags::BreakerState::kClosed) {
    s += base::StrCat(" [breaker ", flags::BreakerStateName(f.breaker), "]");
  }
  return s;
}

// What the fault did and how the system answered, in ms from the injection.
struct FaultStory {
  bool injected = false;
  absl::Time at;
  int64_t rows = 0;
  std::optional<double> open_ms, half_open_ms, closed_ms;
  int64_t reconcile_found = 0, reconcile_healed = 0;
  double reconcile_ms = 0;
  bool reconciled = false;
  int64_t trips = 0;
};

// Corrupts a share of the fault region's rows of `domain`: versions the primary never had,
// with other bytes — what a buggy applier or a bad restore leaves behind.
absl::StatusOr<int64_t> InjectReplicaFault(const std::string& dir, const std::string& domain,
                                           uint64_t seed) {
  CMO_ASSIGN_OR_RETURN(auto replica,
                       store::ReplicaStore::Open(shadow::ReplicaPath(dir, kFaultRegion)));
  std::vector<store::Row> corrupt;
  std::mt19937_64 rng(seed);
  int64_t stray = int64_t{1} << 40;  // above any LSN the primary assigns in a demo
  CMO_RETURN_IF_ERROR(replica->Scan(domain, [&](uint32_t, const store::Row& row) {
    if (rng() % 4 != 0 || row.tombstone) return;
    corrupt.push_back(
        {domain, row.key, "corrupted by the injected fault", ++stray, false, absl::Now()});
  }));
  CMO_RETURN_IF_ERROR(RetryWhileBusy([&] { return replica->Apply(corrupt, {}).status(); }));
  return static_cast<int64_t>(corrupt.size());
}

std::string ResolvePlan(const std::string& given) {
  if (!given.empty()) return given;
  const std::string here = "migrations/social-network.yaml";
  if (std::filesystem::exists(here)) return here;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  // build/orchestrator/cmo -> the source tree's migrations/
  const auto beside = exe.parent_path().parent_path().parent_path() / here;
  return !ec && std::filesystem::exists(beside) ? beside.string() : here;
}

}  // namespace

// The tiers and the support override in the summary, as `cmo decide` explains them: a listed
// super user, the heaviest writers cmo found itself from the workload's telemetry, a subject
// whose request context puts it in the tier, and the user support sent strong.
absl::Status SuperUserStory(LocalApi& local, std::ostream& out) {
  CMO_ASSIGN_OR_RETURN(nlohmann::json tiers, local.Call({"GET", "/v1/tiers", {}, {}, "demo"}));
  std::vector<std::string> heavy;
  for (const nlohmann::json& t : tiers) {
    if (t["name"] != "super_users") continue;
    for (const nlohmann::json& h : t["heavy"]) heavy.push_back(h.get<std::string>());
    out << absl::StrFormat(
        "super users (tier super_users: %s for %d ops once they are eventual):\n",
        t["target"].get<std::string>(), t["ops"].size());
  }
  std::sort(heavy.begin(), heavy.end(),
            [](const std::string& a, const std::string& b) { return UserRank(a) < UserRank(b); });
  const size_t shown = std::min<size_t>(heavy.size(), 5);
  out << "  heaviest writers cmo found from the clients' telemetry: " << heavy.size()
      << (heavy.empty() ? " (none published yet: run longer)" : ", the top ranks: ")
      << base::StrJoin(std::vector<std::string>(heavy.begin(), heavy.begin() + shown), ", ")
      << "\n";
  struct Ask {
    std::string subject;
    std::map<std::string, std::string> context;
  };
  std::vector<Ask> asks = {
      {"celebrity-1", {}}, {"user-77", {{"context.followers", "250000"}}}, {kSupportUser, {}}};
  // The heaviest writer the plan does not name: found by cmo alone.
  for (const std::string& h : heavy) {
    if (UserRank(h) >= 3 && h != kSupportUser) {
      asks.insert(asks.begin() + 1, {h, {}});
      break;
    }
  }
  for (const Ask& a : asks) {
    std::map<std::string, std::string> query = a.context;
    query["subject"] = a.subject;
    CMO_ASSIGN_OR_RETURN(nlohmann::json d,
                         local.Call({"GET", "/v1/ops/feed.read/decide", query, {}, "demo"}));
    std::string ctx;
    for (const auto& [k, v] : a.context) ctx += base::StrCat(" --context ", k.substr(8), "=", v);
    out << "  cmo decide feed.read " << a.subject << ctx << ": " << d["path"].get<std::string>()
        << ", " << d["target"].get<std::string>() << " — " << d["why"].get<std::string>() << "\n";
  }
  return absl::OkStatus();
}

// Super users' replies through the priority channel while the bulk is held 2 s behind, and
// what their followers see (orchestrator/bench/tiers_bench.h, a deployment of its own).
absl::Status FollowerStory(const std::string& dir, std::ostream& out) {
  TiersBenchOptions scene;
  scene.regions = 2;
  scene.priority_writes = 100;
  scene.bulk_writes_per_s = 200;
  scene.backlog = absl::Seconds(2);
  scene.work_dir = dir;
  CMO_ASSIGN_OR_RETURN(nlohmann::json r, RunPriorityScene(scene));
  out << "followers of a super user (the bulk channel held 2 s behind in every region):\n"
      << absl::StrFormat(
             "  celebrity-1's replies reach every region in p99 %.0f ms (priority channel); "
             "bulk changes in p99 %.0f ms\n",
             r["priority_lag_p99_ms"].get<double>(), r["bulk_lag_p99_ms"].get<double>())
      << absl::StrFormat(
             "  followers opening a reply, then the post it answers: under eventual %d of %d "
             "saw the reply before its post; under consistent_prefix %d of %d\n",
             r["replies_before_posts_eventual"].get<int64_t>(),
             r["follower_pages_eventual"].get<int64_t>(),
             r["replies_before_posts_consistent_prefix"].get<int64_t>(),
             r["follower_pages_consistent_prefix"].get<int64_t>());
  if (r["replies_before_posts_consistent_prefix"].get<int64_t>() != 0) {
    return absl::InternalError("consistent_prefix showed a reply before its post");
  }
  return absl::OkStatus();
}

absl::Status RunDemo(const DemoOptions& o, std::ostream& out) {
  const std::string dir = o.state_dir;
  if (std::filesystem::exists(dir) && !std::filesystem::is_empty(dir)) {
    return absl::InvalidArgumentError(base::StrCat(
        "state dir ", dir, " is not empty; the demo needs a fresh one (omit --state-dir)"));
  }
  if (o.duration < absl::Seconds(60)) {
    return absl::InvalidArgumentError("--duration: at least 60s, to fit the story");
  }
  const std::string plan_path = ResolvePlan(o.plan_file);
  std::ifstream plan_in(plan_path);
  if (!plan_in) {
    return absl::InvalidArgumentError(base::StrCat(
        plan_path, ": cannot read the plan; run from the repository root or pass --plan FILE"));
  }
  std::stringstream plan_text;
  plan_text << plan_in.rdbuf();
  // Evidence counts follow the workload's rate: at 2000 ops/s the least-read op in the first
  // phase (feed.read) settles ~170 comparisons per 10 s window. Budgets keep 1/50 of their
  // minimum sample counts (20 for the plan's 1000): thin windows do not decide.
  const Compression compression{kHoldsToHalf / (0.3 * absl::ToDoubleSeconds(o.duration)),
                                100.0 * 2000 / std::min(2000, o.ops_per_s), 50};
  CMO_ASSIGN_OR_RETURN(std::string compressed, CompressPlan(plan_text.str(), compression));

  const absl::Time start = absl::Now();
  Narrator say(out, o.live, start);
  say.Say(base::StrCat("state dir ", dir, "; plan ", plan_path, " with time compressed ",
                       std::llround(compression.time_factor), "x (a 4h hold takes ",
                       std::llround(4 * 3600 / compression.time_factor),
                       "s), shadow_samples gates / ", std::llround(compression.count_factor),
                       ", min_samples / ", compression.min_samples_factor));

  ServeConfig config;
  config.state_dir = dir;
  config.listen = "";
  config.regions = {"eu-west", "us-east"};
  // One partition per change topic: the embedded cluster runs every broker on one thread and
  // scans a partition's log linearly on each fetch, so partitions add work, not parallelism
  // (with 4, its thread saturated a core 90 s into the story and replication lag kept growing).
  config.kafka_partitions = 1;
  config.simulated_lag = {{"eu-west", absl::Milliseconds(25)}, {"us-east", absl::Milliseconds(60)}};
  config.control.evaluate_every = absl::Milliseconds(100);
  config.control.budget.short_window = absl::Seconds(10);
  config.control.budget.long_window = absl::Seconds(60);
  config.control.budget.breaker = {absl::Seconds(4), absl::Seconds(16), absl::Seconds(4)};
  CMO_ASSIGN_OR_RETURN(auto control, OpenControlState(dir, /*create=*/true, base::SystemClock()));
  config.listen = o.listen;
  config.executor_every = absl::Milliseconds(250);
  // The same control service `cmo serve` runs: data path, control loop, API, plan executor.
  CMO_ASSIGN_OR_RETURN(auto service, ControlService::Start(config, base::SystemClock()));
  Server* server = service->data_path();
  say.Say(base::StrCat("embedded Kafka at ", server->bootstrap_servers(),
                       "; replicas eu-west (+25 ms link) and us-east (+60 ms link); dashboard ",
                       service->api() != nullptr ? service->api()->url() + "/" : "off"));

  {
    // One row per domain first, so every change topic exists and both replicas follow before
    // the workload starts: the seconds of topic creation would otherwise show as lag.
    CMO_ASSIGN_OR_RETURN(auto primary,
                         store::PrimaryStore::Open(shadow::PrimaryPath(dir), base::SystemClock()));
    std::vector<store::WriteRequest> seed;
    for (const char* domain : {"likes", "feeds", "comments", "profiles", "payments", "privacy"}) {
      seed.push_back({domain, "seed", "seed", false, "demo.seed", "demo"});
    }
    CMO_ASSIGN_OR_RETURN(std::vector<int64_t> lsns, primary->Write(seed));
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    for (;;) {
      bool caught_up = true;
      for (const auto& r : server->regions()) caught_up &= r.watermark >= lsns.back();
      if (caught_up) break;
      if (absl::Now() > deadline) {
        return absl::UnavailableError("the replicas did not catch up with the seed rows in 30s");
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    say.Say(
        absl::StrFormat("change topics created; both replicas caught up in %.1fs", say.Elapsed()));
  }
  LocalApi local(dir, base::SystemClock());
  const std::string compressed_path = dir + "/social-network.compressed.yaml";
  std::ofstream(compressed_path) << compressed;
  CMO_ASSIGN_OR_RETURN(
      nlohmann::json applied,
      local.Call({"POST",
                  "/v1/plans",
                  {},
                  {{"file", compressed_path}, {"yaml", compressed}, {"reason", "cmo demo"}},
                  "demo"}));
  say.Say(base::StrCat("applied plan ", applied["plan"].get<std::string>(), ": registered ",
                       applied["registered"].size(),
                       " ops; critical ones (payments, privacy) "
                       "stay strong"));

  // Support's side of the story: a user says their comment is missing; support sends them to
  // the primary for feeds and comments while they look (every client applies it with the next
  // flag snapshot). The summary shows `cmo decide` explaining it.
  for (const char* domain : {"feeds", "comments"}) {
    CMO_RETURN_IF_ERROR(local
                            .Call({"POST",
                                   "/v1/overrides",
                                   {},
                                   {{"subject", kSupportUser},
                                    {"domain", domain},
                                    {"strong", true},
                                    {"ttl", "2h"},
                                    {"reason", "ticket 8812: my comment is missing"}},
                                   "support-1"})
                            .status());
  }
  say.Say(base::StrCat("support: override for ", kSupportUser,
                       " (feeds, comments) strong for 2h: \"ticket 8812: my comment is missing\""));

  // Two app instances, one per region, each with half of the users.
  std::vector<std::unique_ptr<shadow::Client>> clients;
  for (const std::string& region : config.regions) {
    shadow::ClientConfig cc;
    cc.state_dir = dir;
    cc.region = region;
    cc.synchronous_full = false;
    cc.staleness_window = absl::Seconds(2);
    CMO_ASSIGN_OR_RETURN(auto client, shadow::Client::Open(cc));
    clients.push_back(std::move(client));
  }
  // A client starts from the newest snapshot on cmo.flags, which may predate the plan: the
  // workload starts once every client routes the plan's ops (else its first requests fail).
  const absl::Time routed_by = absl::Now() + absl::Seconds(10);
  for (const auto& c : clients) {
    while (!c->evaluator().Decide("feed.read", "u").known_op && absl::Now() < routed_by) {
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  WorkloadCounts counts;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (size_t i = 0; i < clients.size(); ++i) {
    WorkloadOptions wo{o.users,
                       1.05,
                       o.ops_per_s / static_cast<int>(clients.size()),
                       o.seed,
                       static_cast<int>(i),
                       static_cast<int>(clients.size())};
    shadow::Client* c = clients[i].get();
    workers.emplace_back([c, wo, &stop, &counts] { RunWorkload(*c, wo, stop, counts); });
  }
  struct Joiner {
    std::atomic<bool>* stop;
    std::vector<std::thread>* workers;
    ~Joiner() {
      stop->store(true);
      for (std::thread& t : *workers) t.join();
    }
  } joiner{&stop, &workers};
  say.Say(base::StrCat("workload: ", o.users,
                       " users (power law; super users celebrity-1, "
                       "celebrity-2, creator-99), ~",
                       o.ops_per_s,
                       " ops/s through the client "
                       "library in both regions"));

  {
    // The plan starts once replication has settled: the first second's changes (consumer
    // groups joining) would otherwise open the budget with a lag reading of the start-up.
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    std::string lags;
    for (;;) {
      absl::SleepFor(absl::Milliseconds(250));
      bool settled = true;
      lags.clear();
      for (const auto& r : server->regions()) {
        settled &= r.applier.applied > 500 && r.applier.lag_p99_ms < 250;
        lags += absl::StrFormat(" %s %.0f ms", r.region, r.applier.lag_p99_ms);
      }
      if (settled || absl::Now() > deadline) break;
    }
    say.Say(base::StrCat("replication lag p99:", lags, "; the plan starts now"));
  }
  CMO_RETURN_IF_ERROR(service->StartExecutor());
  CMO_ASSIGN_OR_RETURN(auto log, reconcile::DivergenceLog::Open(control->flags->db()));
  FaultStory fault;
  std::optional<absl::Time> at_half;
  std::optional<flags::Flag> last_route;
  flags::BreakerState last_breaker = flags::BreakerState::kClosed;
  int64_t last_ops = 0, last_reads = 0, last_eventual = 0;
  absl::Time last_sample = absl::Now();
  std::map<std::string, int64_t> before_fault;  // mismatch classes seen before the fault
  const absl::Time end = start + o.duration;
  while (absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(250));
    CMO_RETURN_IF_ERROR(service->error());
    const std::vector<migrations::TickEvent> events = service->TakePlanEvents();
    for (const migrations::TickEvent& e : events)
      say.Say(base::StrCat("plan: ", e.op, ": ", e.what));
    CMO_ASSIGN_OR_RETURN(flags::Flag story, control->flags->Get(kStoryOp));
    if (events.empty() && last_route.has_value() &&
        flags::StagedEventualBp(story) < flags::StagedEventualBp(*last_route)) {
      // Moved back by someone other than the executor (whose steps only climb, and whose
      // events may come a poll after its flag change): the breaker's recovery stepping the
      // plan back (rollback.after_recovery: resume).
      say.Say(base::StrCat(kStoryOp, " stepped back to ", FlagWords(story),
                           " after recovery; the plan climbs again from there"));
    }
    last_route = story;
    const double since_fault_ms =
        fault.injected ? absl::ToDoubleMilliseconds(absl::Now() - fault.at) : 0;
    if (story.breaker != last_breaker) {
      say.Say(base::StrCat("breaker of ", kStoryOp, ": ", flags::BreakerStateName(last_breaker),
                           " -> ", flags::BreakerStateName(story.breaker),
                           fault.injected
                               ? absl::StrFormat(" (%.0f ms after the fault)", since_fault_ms)
                               : std::string()));
      if (fault.injected) {
        if (story.breaker == flags::BreakerState::kOpen) {
          ++fault.trips;
          if (!fault.open_ms) fault.open_ms = since_fault_ms;
        }
        if (story.breaker == flags::BreakerState::kHalfOpen && !fault.half_open_ms) {
          fault.half_open_ms = since_fault_ms;
        }
        if (story.breaker == flags::BreakerState::kClosed && fault.open_ms && !fault.closed_ms) {
          fault.closed_ms = since_fault_ms;
        }
      }
      last_breaker = story.breaker;
    }
    if (story.stage == flags::Stage::kRamp && story.ramp_bp >= 5000 && !at_half)
      at_half = absl::Now();
    const bool time_up = absl::Now() - start > o.duration * 0.6;
    if (o.faults && !fault.injected &&
        ((at_half && absl::Now() - *at_half > absl::Seconds(8)) ||
         (time_up && story.stage == flags::Stage::kRamp))) {
      reconcile::DivergenceQuery q;
      q.since = start;
      CMO_ASSIGN_OR_RETURN(auto seen, log->Find(q));
      for (const auto& r : seen) ++before_fault[r.diff_class];
      CMO_ASSIGN_OR_RETURN(fault.rows, InjectReplicaFault(dir, "likes", o.seed));
      fault.injected = true;
      fault.at = absl::Now();
      say.Say(base::StrCat("FAULT: corrupted ", fault.rows, " rows of likes in the ", kFaultRegion,
                           " replica (versions the primary never wrote)"));
    }
    if (fault.open_ms && !fault.reconciled) {
      // The operator's (here: the demo's) answer to a trip: reconcile the domain now.
      CMO_ASSIGN_OR_RETURN(
          nlohmann::json rec,
          local.Call({"POST",
                      "/v1/reconcile",
                      {},
                      {{"domain", "likes"}, {"regions", {kFaultRegion}}, {"restart", true}},
                      "demo"}));
      fault.reconciled = true;
      fault.reconcile_found = rec[0]["found"].get<int64_t>();
      fault.reconcile_healed = rec[0]["healed"].get<int64_t>();
      fault.reconcile_ms = rec[0]["find_and_heal_ms"].get<double>();
      say.Say(absl::StrFormat(
          "reconciliation of likes in %s: %d buckets differed, %d rows found, %d healed in "
          "%.0f ms (shadow reads had already repaired some at once)",
          kFaultRegion, rec[0]["differing_buckets"].get<int64_t>(), fault.reconcile_found,
          fault.reconcile_healed, fault.reconcile_ms));
    }
    if (absl::Now() - last_sample >= absl::Seconds(1)) {
      const double secs = absl::ToDoubleSeconds(absl::Now() - last_sample);
      last_sample = absl::Now();
      const int64_t ops = counts.reads.load() + counts.writes.load();
      const int64_t reads = counts.reads.load(), eventual = counts.eventual_reads.load();
      std::string lag;
      for (const auto& r : server->regions()) {
        lag += absl::StrFormat(" %s %.0fms", r.region, r.applier.lag_p99_ms);
      }
      CMO_ASSIGN_OR_RETURN(flags::Flag feed, control->flags->Get("feed.read"));
      say.Status(absl::StrFormat(
          "%s %s | feed.read %s | %.0f ops/s, %.1f%% of reads eventual | lag p99%s", kStoryOp,
          FlagWords(story), FlagWords(feed), static_cast<double>(ops - last_ops) / secs,
          reads > last_reads ? 100.0 * static_cast<double>(eventual - last_eventual) /
                                   static_cast<double>(reads - last_reads)
                             : 0.0,
          lag));
      last_ops = ops;
      last_reads = reads;
      last_eventual = eventual;
    }
  }
  stop.store(true);
  say.EndStatus();

  // The summary, from what was measured.
  reconcile::DivergenceQuery q;
  q.since = start;
  q.limit = 1'000'000;
  CMO_ASSIGN_OR_RETURN(auto records, log->Find(q));
  std::map<std::string, int64_t> classes;
  for (const auto& r : records) ++classes[r.diff_class];
  if (!fault.injected) before_fault = classes;
  const std::string report_path = dir + "/divergence-report.html";
  std::ofstream(report_path) << reconcile::RenderReport(
      records, reconcile::ReportFormat::kHtml,
      {"cmo demo: every divergence found during the run", absl::Now()});
  auto words = [](const std::map<std::string, int64_t>& m) {
    std::string s;
    for (const auto& [k, v] : m) s += base::StrCat(s.empty() ? "" : ", ", v, " ", k);
    return s.empty() ? std::string("none") : s;
  };
  out << "\n=== summary ===\n";
  out << absl::StrFormat(
      "workload: %d reads, %d writes, %d errors; %d reads served eventual "
      "(%d fell back to the primary)\n",
      counts.reads.load(), counts.writes.load(), counts.errors.load(), counts.eventual_reads.load(),
      counts.fell_back.load());
  if (counts.errors.load() > 0) {
    std::lock_guard<std::mutex> lock(counts.mu);
    out << "  first error: " << counts.first_error << "\n";
  }
  out << "shadow comparison before the fault: " << words(before_fault) << "\n";
  for (const char* op :
       {"feed.read", "like.count", "post.like", "comment.list", "payment.transfer"}) {
    CMO_ASSIGN_OR_RETURN(flags::Flag f, control->flags->Get(op));
    out << "  " << op << ": " << FlagWords(f) << "\n";
  }
  absl::Status verdict = absl::OkStatus();
  if (o.faults) {
    if (!fault.injected) {
      verdict = absl::FailedPreconditionError(
          base::StrCat(kStoryOp,
                       " never reached ramp, so no fault was injected; run longer "
                       "(--duration)"));
    } else {
      out << absl::StrFormat("fault: %d rows corrupted in %s\n", fault.rows, kFaultRegion);
      auto ms = [](const std::optional<double>& v) {
        return v ? absl::StrFormat("%.0f ms", *v) : std::string("did not happen");
      };
      out << "  breaker open (op back on strong, fleet-wide): " << ms(fault.open_ms)
          << " after the fault (detection waits out the 2 s staleness window that tells lag "
             "from divergence)\n  half-open probe: "
          << ms(fault.half_open_ms) << "\n  closed again (recovered): " << ms(fault.closed_ms)
          << "\n";
      out << absl::StrFormat("  reconciliation: found %d, healed %d in %.0f ms\n",
                             fault.reconcile_found, fault.reconcile_healed, fault.reconcile_ms);
      if (!fault.open_ms) {
        verdict = absl::InternalError("the breaker did not trip on the injected fault");
      } else if (!fault.closed_ms) {
        verdict = absl::InternalError("the breaker did not recover before the end; run longer");
      }
    }
  }
  CMO_RETURN_IF_ERROR(SuperUserStory(local, out));
  out << "all divergences of the run: " << words(classes) << "\n";
  out << "divergence report (HTML): " << report_path << "\n";
  out << "state dir (kept; inspect with `cmo --state-dir " << dir << " history`): " << dir << "\n";
  for (std::thread& t : workers) t.join();
  workers.clear();
  clients.clear();
  CMO_RETURN_IF_ERROR(service->Stop());
  CMO_RETURN_IF_ERROR(FollowerStory(dir, out));
  return verdict;
}

}  // namespace cmo::orchestrator
