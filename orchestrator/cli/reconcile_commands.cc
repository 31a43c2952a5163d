// `cmo reconcile run`, `cmo report divergence`.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"
#include "reconcile/divergence_log.h"
#include "reconcile/full_scan.h"
#include "reconcile/reconcile_job.h"
#include "reconcile/reconciler.h"
#include "reconcile/report.h"
#include "shadow/change_event.h"
#include "shadow/state_layout.h"

namespace cmo::orchestrator {
namespace {

struct RunOptions {
  std::string domain;
  std::vector<std::string> regions;
  bool dry_run = false;
  bool restart = false;
  int64_t max_rows_per_s = 0;
  int64_t max_lag = 0;
  std::string policy = "primary_wins";
  std::string staleness_window = "30s";
};

// The regions that have a replica in the state dir.
std::vector<std::string> ReplicaRegions(const std::string& state_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(state_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("replica-", 0) == 0 && name.size() > 11 &&
        name.substr(name.size() - 3) == ".db") {
      out.push_back(name.substr(8, name.size() - 11));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

int RunReconcile(const RunOptions& o, const GlobalOptions& global) {
  auto policy = reconcile::ParseHealPolicy(o.policy);
  if (!policy.ok()) return ReportError(policy.status());
  auto window = base::ParseDuration(o.staleness_window);
  if (!window.ok()) return ReportError(window.status());
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  auto log = reconcile::DivergenceLog::Open((*state)->flags->db());
  if (!log.ok()) return ReportError(log.status());
  auto jobs = reconcile::JobStore::Open((*state)->flags->db());
  if (!jobs.ok()) return ReportError(jobs.status());
  const std::vector<std::string> regions =
      o.regions.empty() ? ReplicaRegions(global.state_dir) : o.regions;
  if (regions.empty()) {
    return ReportError(absl::FailedPreconditionError(base::StrCat(
        "no replica in ", global.state_dir, "; run `cmo serve` first, or name --region")));
  }
  auto primary = store::PrimaryStore::Open(shadow::PrimaryPath(global.state_dir),
                                           base::SystemClock());
  if (!primary.ok()) return ReportError(primary.status());
  nlohmann::json out = nlohmann::json::array();
  Table t({"region", "buckets", "differing", "rows scanned", "found", "healed", "in flight",
           "digest ms", "find+heal ms"});
  for (const std::string& region : regions) {
    const std::string path = shadow::ReplicaPath(global.state_dir, region);
    if (!std::filesystem::exists(path)) {
      return ReportError(absl::NotFoundError(base::StrCat("no replica for region ", region, " (",
                                                          path, ")")));
    }
    auto replica = store::ReplicaStore::Open(path);
    if (!replica.ok()) return ReportError(replica.status());
    const std::string topic = shadow::ChangeTopic(o.domain);
    auto watermark = (*replica)->TopicWatermark(topic);
    auto partitions = (*replica)->TopicPartitions(topic);
    if (!watermark.ok()) return ReportError(watermark.status());
    if (!partitions.ok()) return ReportError(partitions.status());
    reconcile::ReconcileOptions ro{o.domain, *policy, o.dry_run, *watermark, *window};
    nlohmann::json diffs = nlohmann::json::array();
    std::vector<reconcile::KeyDiff> found;
    reconcile::ReconcileReport report;
    if (o.dry_run) {
      auto r = reconcile::Reconcile(**primary, **replica, ro, base::SystemClock());
      if (!r.ok()) return ReportError(r.status());
      report = *std::move(r);
      found = report.diffs;
    } else {
      // A checkpointed job: resumes after a kill, obeys pause/resume/throttle from other
      // processes, and logs findings as it goes.
      reconcile::JobRunOptions jo;
      jo.reconcile = ro;
      jo.region = region;
      jo.restart = o.restart;
      jo.max_rows_per_s = o.max_rows_per_s;
      jo.max_lag_lsn = o.max_lag;
      store::PrimaryStore* p = primary->get();
      store::ReplicaStore* rep = replica->get();
      jo.replica_lag = [p, rep, topic]() -> absl::StatusOr<int64_t> {
        absl::StatusOr<int64_t> last = p->LastLsn();
        absl::StatusOr<int64_t> w = rep->TopicWatermark(topic);
        if (!last.ok()) return last.status();
        if (!w.ok()) return w.status();
        return *last - *w;
      };
      jo.on_findings = [&](const std::vector<reconcile::KeyDiff>& diffs) -> absl::Status {
        std::vector<reconcile::DivergenceRecord> records;
        const absl::Time now = absl::Now();
        for (const reconcile::KeyDiff& d : diffs) {
          found.push_back(d);
          if (!d.in_flight) records.push_back(reconcile::FromKeyDiff(
              d, region, *partitions > 0 ? shadow::PartitionOf(d.key, *partitions) : -1, now));
        }
        return (*log)->Append(records);
      };
      auto job = reconcile::RunJob(**jobs, **primary, **replica, jo, base::SystemClock());
      if (!job.ok()) return ReportError(job.status());
      report.buckets = int64_t{1} << (*primary)->digest_bits();
      report.differing_buckets = static_cast<int64_t>(job->buckets.size());
      report.rows_scanned = job->rows_scanned;
      report.healed = job->healed;
      report.in_flight = job->in_flight;
      report.find_and_heal_ms = absl::ToDoubleMilliseconds(job->updated - job->started);
    }
    for (const reconcile::KeyDiff& d : found) {
      diffs.push_back({{"key", d.key},
                       {"class", reconcile::DiffClassName(d.diff_class)},
                       {"primary_lsn", d.primary_lsn},
                       {"replica_lsn", d.replica_lsn},
                       {"in_flight", d.in_flight},
                       {"heal", d.heal}});
    }
    report.diffs = found;
    out.push_back({{"region", region},
                   {"domain", o.domain},
                   {"dry_run", o.dry_run},
                   {"policy", o.policy},
                   {"buckets", report.buckets},
                   {"differing_buckets", report.differing_buckets},
                   {"rows_scanned", report.rows_scanned},
                   {"found", report.diffs.size()},
                   {"healed", report.healed},
                   {"in_flight", report.in_flight},
                   {"digest_compare_ms", report.digest_compare_ms},
                   {"find_and_heal_ms", report.find_and_heal_ms},
                   {"diffs", diffs}});
    t.AddRow({region, base::StrCat(report.buckets), base::StrCat(report.differing_buckets),
              base::StrCat(report.rows_scanned), base::StrCat(report.diffs.size()),
              base::StrCat(report.healed), base::StrCat(report.in_flight),
              absl::StrFormat("%.1f", report.digest_compare_ms),
              absl::StrFormat("%.1f", report.find_and_heal_ms)});
  }
  if (global.json()) {
    PrintJson(out);
  } else {
    t.Print(std::cout);
    if (o.dry_run) std::cout << "dry run: nothing was changed or logged\n";
  }
  return kExitOk;
}

struct JobOptions {
  std::string domain;
  std::string region;
  int64_t rows_per_s = 0;
};

absl::StatusOr<std::unique_ptr<reconcile::JobStore>> Jobs(const GlobalOptions& global,
                                                          std::unique_ptr<ControlState>* keep) {
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return state.status();
  *keep = *std::move(state);
  return reconcile::JobStore::Open((*keep)->flags->db());
}

int RunStatus(const GlobalOptions& global) {
  std::unique_ptr<ControlState> state;
  auto jobs = Jobs(global, &state);
  if (!jobs.ok()) return ReportError(jobs.status());
  auto list = (*jobs)->List();
  if (!list.ok()) return ReportError(list.status());
  nlohmann::json out = nlohmann::json::array();
  Table t({"domain", "region", "state", "buckets", "rows", "rows/s", "found", "healed", "eta",
           "waiting"});
  for (const reconcile::ReconcileJob& j : *list) {
    const double secs = absl::ToDoubleSeconds(j.updated - j.started);
    const double rate = secs > 0 ? static_cast<double>(j.rows_scanned) / secs : 0;
    const int64_t total = static_cast<int64_t>(j.buckets.size());
    std::string eta = "-";
    if (j.state != "done" && j.next_index > 0 && secs > 0) {
      eta = base::HumanDuration(absl::Seconds(secs / static_cast<double>(j.next_index) *
                                              static_cast<double>(total - j.next_index)));
    }
    out.push_back({{"domain", j.domain},
                   {"region", j.region},
                   {"state", j.state},
                   {"buckets_done", j.next_index},
                   {"buckets_total", total},
                   {"rows_scanned", j.rows_scanned},
                   {"rows_per_s", std::round(rate)},
                   {"found", j.found},
                   {"healed", j.healed},
                   {"max_rows_per_s", j.max_rows_per_s},
                   {"eta", eta},
                   {"waiting", j.waiting}});
    t.AddRow({j.domain, j.region, j.state, base::StrCat(j.next_index, "/", total),
              base::StrCat(j.rows_scanned), base::StrCat(std::llround(rate)),
              base::StrCat(j.found), base::StrCat(j.healed), eta,
              j.waiting.empty() ? "-" : j.waiting});
  }
  if (global.json()) {
    PrintJson(out);
  } else {
    t.Print(std::cout);
  }
  return kExitOk;
}

int RunSetState(const JobOptions& o, const std::string& state, const GlobalOptions& global) {
  std::unique_ptr<ControlState> keep;
  auto jobs = Jobs(global, &keep);
  if (!jobs.ok()) return ReportError(jobs.status());
  if (absl::Status s = (*jobs)->SetState(o.domain, o.region, state); !s.ok()) {
    return ReportError(s);
  }
  std::cout << "reconciliation of " << o.domain << " in " << o.region << ": " << state << "\n";
  return kExitOk;
}

int RunThrottle(const JobOptions& o, const GlobalOptions& global) {
  std::unique_ptr<ControlState> keep;
  auto jobs = Jobs(global, &keep);
  if (!jobs.ok()) return ReportError(jobs.status());
  if (absl::Status s = (*jobs)->SetThrottle(o.domain, o.region, o.rows_per_s); !s.ok()) {
    return ReportError(s);
  }
  std::cout << "reconciliation of " << o.domain << " in " << o.region << ": at most "
            << o.rows_per_s << " rows/s\n";
  return kExitOk;
}

struct VerifyOptions {
  std::string domain;
};

// Full scan: recompute each store's bucket digests from its rows.
int RunVerify(const VerifyOptions& o, const GlobalOptions& global) {
  nlohmann::json out = nlohmann::json::array();
  Table t({"store", "rows", "buckets", "corrupt buckets", "rows/s"});
  bool corrupt = false;
  auto add = [&](const std::string& name, const reconcile::FullScanReport& r) {
    corrupt = corrupt || !r.corrupt_buckets.empty();
    out.push_back({{"store", name},
                   {"rows", r.rows},
                   {"buckets", r.buckets},
                   {"corrupt_buckets", r.corrupt_buckets},
                   {"rows_per_s", std::round(r.rows_per_s)}});
    t.AddRow({name, base::StrCat(r.rows), base::StrCat(r.buckets),
              r.corrupt_buckets.empty() ? "none" : base::StrJoin(r.corrupt_buckets, ","),
              base::StrCat(std::llround(r.rows_per_s))});
  };
  auto primary = store::PrimaryStore::Open(shadow::PrimaryPath(global.state_dir),
                                           base::SystemClock());
  if (!primary.ok()) return ReportError(primary.status());
  auto digests = (*primary)->Digests(o.domain);
  if (!digests.ok()) return ReportError(digests.status());
  auto report = reconcile::VerifyDigests(
      [&](const std::function<void(uint32_t, const store::Row&)>& fn) {
        return (*primary)->Scan(o.domain, fn);
      },
      *digests);
  if (!report.ok()) return ReportError(report.status());
  add("primary", *report);
  for (const std::string& region : ReplicaRegions(global.state_dir)) {
    auto replica = store::ReplicaStore::Open(shadow::ReplicaPath(global.state_dir, region));
    if (!replica.ok()) return ReportError(replica.status());
    auto rd = (*replica)->Digests(o.domain);
    if (!rd.ok()) return ReportError(rd.status());
    auto rr = reconcile::VerifyDigests(
        [&](const std::function<void(uint32_t, const store::Row&)>& fn) {
          return (*replica)->Scan(o.domain, fn);
        },
        *rd);
    if (!rr.ok()) return ReportError(rr.status());
    add(base::StrCat("replica ", region), *rr);
  }
  if (global.json()) {
    PrintJson(out);
  } else {
    t.Print(std::cout);
  }
  if (corrupt) {
    return ReportError(absl::DataLossError(
        "digest corruption found: the listed buckets' stored digests do not match their rows; "
        "digest reconciliation cannot be trusted for them until the store is rebuilt"));
  }
  return kExitOk;
}

struct GcOptions {
  std::string domain;
  std::string grace;
};

int RunGc(const GcOptions& o, const GlobalOptions& global) {
  auto grace = base::ParseDuration(o.grace);
  if (!grace.ok()) return ReportError(grace.status());
  if (*grace < absl::Hours(1)) {
    return ReportError(absl::InvalidArgumentError(
        "--grace must be at least 1h: it must exceed the longest replica downtime you tolerate"));
  }
  const absl::Time cutoff = absl::Now() - *grace;
  auto primary = store::PrimaryStore::Open(shadow::PrimaryPath(global.state_dir),
                                           base::SystemClock());
  if (!primary.ok()) return ReportError(primary.status());
  nlohmann::json out = nlohmann::json::object();
  // Replicas first: a crash in between leaves the primary holding tombstones the replicas no
  // longer have, which the next reconciliation puts back — never the reverse.
  for (const std::string& region : ReplicaRegions(global.state_dir)) {
    auto replica = store::ReplicaStore::Open(shadow::ReplicaPath(global.state_dir, region));
    if (!replica.ok()) return ReportError(replica.status());
    auto n = (*replica)->CollectTombstones(o.domain, cutoff);
    if (!n.ok()) return ReportError(n.status());
    out[region] = *n;
  }
  auto n = (*primary)->CollectTombstones(o.domain, cutoff);
  if (!n.ok()) return ReportError(n.status());
  out["primary"] = *n;
  if (global.json()) {
    PrintJson(out);
  } else {
    for (const auto& [where, count] : out.items()) {
      std::cout << where << ": " << count.get<int64_t>() << " tombstone(s) of " << o.domain
                << " older than " << base::FormatDuration(*grace) << " collected\n";
    }
  }
  return kExitOk;
}

struct ReportOptions {
  std::string user;
  std::string op;
  std::string since = "24h";
  std::string format = "table";
  std::string file;
};

int RunReport(const ReportOptions& o, const GlobalOptions& global) {
  auto format = reconcile::ParseReportFormat(global.json() ? "json" : o.format);
  if (!format.ok()) return ReportError(format.status());
  auto since = base::ParseDuration(o.since);
  if (!since.ok()) return ReportError(since.status());
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  auto log = reconcile::DivergenceLog::Open((*state)->flags->db());
  if (!log.ok()) return ReportError(log.status());
  const absl::Time now = absl::Now();
  reconcile::DivergenceQuery q;
  q.subject = o.user;
  q.op = o.op;
  q.since = now - *since;
  auto records = (*log)->Find(q);
  if (!records.ok()) return ReportError(records.status());
  std::string title = "Divergences";
  if (!o.user.empty()) title += " for user " + o.user;
  if (!o.op.empty()) title += " in op " + o.op;
  title += " in the last " + base::FormatDuration(*since);
  const std::string text = reconcile::RenderReport(*records, *format, {title, now});
  if (o.file.empty()) {
    std::cout << text;
    return kExitOk;
  }
  std::ofstream f(o.file);
  f << text;
  f.close();
  if (!f) {
    return ReportError(absl::InvalidArgumentError(
        base::StrCat("cannot write ", o.file, "; check the path and permissions")));
  }
  std::cout << "wrote " << records->size() << " item(s) to " << o.file << "\n";
  return kExitOk;
}

}  // namespace

void SetupReconcileCommands(CLI::App& app, const GlobalOptions& global,
                            CommandRegistry& registry) {
  CLI::App* rec = app.add_subcommand(
      "reconcile", "Find rows where replicas disagree with the primary, and repair them");
  rec->require_subcommand(1);
  auto r = std::make_shared<RunOptions>();
  CLI::App* run = rec->add_subcommand(
      "run", "Compare digests, scan the differing buckets, classify and heal; logs every finding");
  run->add_option("--domain", r->domain, "The domain (keyspace) to reconcile")->required();
  run->add_option("--region", r->regions, "Replica region(s) (default: every replica)")
      ->delimiter(',');
  run->add_flag("--dry-run", r->dry_run, "Find and classify; change and log nothing");
  run->add_flag("--restart", r->restart,
                "Start a new job even if an unfinished one (killed, paused) exists; by default "
                "it resumes");
  run->add_option("--max-rows-per-s", r->max_rows_per_s,
                  "Throttle: rows read per second (0 = unthrottled; change it live with "
                  "`cmo reconcile throttle`)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  run->add_option("--max-lag", r->max_lag,
                  "Pause while the replica is more than this many LSNs behind the primary (0 = "
                  "never)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000'000}));
  run->add_option("--policy", r->policy,
                  "primary_wins (default), last_writer_wins or merge (JSON-array sets)");
  run->add_option("--staleness-window", r->staleness_window,
                  "Lag younger than this, above the replica's watermark, is left to the applier "
                  "(default 30s)");
  registry.On(run, [r, &global] { return RunReconcile(*r, global); });

  auto st = std::make_shared<JobOptions>();
  CLI::App* status = rec->add_subcommand("status", "Every reconciliation job: progress, rows/s, ETA");
  registry.On(status, [&global] { return RunStatus(global); });
  for (const char* verb : {"pause", "resume"}) {
    CLI::App* c = rec->add_subcommand(
        verb, std::string(verb) == "pause" ? "Pause a running job (it waits, checkpointed)"
                                           : "Resume a paused job");
    c->add_option("--domain", st->domain, "The job's domain")->required();
    c->add_option("--region", st->region, "The job's region")->required();
    const std::string state = std::string(verb) == "pause" ? "paused" : "running";
    registry.On(c, [st, state, &global] { return RunSetState(*st, state, global); });
  }
  CLI::App* throttle = rec->add_subcommand("throttle", "Change a job's rows/s limit while it runs");
  throttle->add_option("--domain", st->domain, "The job's domain")->required();
  throttle->add_option("--region", st->region, "The job's region")->required();
  throttle->add_option("--rows-per-s", st->rows_per_s, "New limit (0 = unthrottled)")
      ->required()
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  registry.On(throttle, [st, &global] { return RunThrottle(*st, global); });

  auto v = std::make_shared<VerifyOptions>();
  CLI::App* verify = rec->add_subcommand(
      "verify", "Full scan: recompute every bucket digest from the rows (primary and replicas) "
                "and report digest corruption (exit 1)");
  verify->add_option("--domain", v->domain, "The domain")->required();
  registry.On(verify, [v, &global] { return RunVerify(*v, global); });

  auto g = std::make_shared<GcOptions>();
  CLI::App* gc = rec->add_subcommand(
      "gc", "Collect tombstones older than a grace period, on every replica and the primary");
  gc->add_option("--domain", g->domain, "The domain")->required();
  gc->add_option("--grace", g->grace,
                 "Longer than the longest replica downtime you tolerate (e.g. 7d); a replica "
                 "offline longer must be resynced in full")
      ->required();
  registry.On(gc, [g, &global] { return RunGc(*g, global); });

  CLI::App* report = app.add_subcommand("report", "Reports for support teams");
  report->require_subcommand(1);
  auto p = std::make_shared<ReportOptions>();
  CLI::App* div = report->add_subcommand(
      "divergence", "What happened to a user's data, in plain words (values never shown)");
  div->add_option("--user", p->user, "Only this subject (user id)");
  div->add_option("--op", p->op, "Only this op");
  div->add_option("--since", p->since, "How far back (default 24h)");
  div->add_option("--format", p->format, "table (default), json, csv or html")
      ->check(CLI::IsMember({"table", "json", "csv", "html"}));
  div->add_option("-o,--out", p->file, "Write to this file instead of stdout");
  registry.On(div, [p, &global] { return RunReport(*p, global); });
}

}  // namespace cmo::orchestrator
