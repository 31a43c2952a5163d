// `cmo reconcile run`, `cmo report divergence`.
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/clock.h"
#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"
#include "orchestrator/service/cdc_reconcile.h"
#include "orchestrator/service/serve_config.h"
#include "reconcile/divergence_log.h"
#include "reconcile/full_scan.h"
#include "reconcile/reconcile_job.h"
#include "reconcile/reconciler.h"
#include "reconcile/report.h"
#include "shadow/change_event.h"
#include "shadow/deployment_stores.h"
#include "shadow/state_layout.h"

namespace cmo::orchestrator {
namespace {

struct CdcOptions {
  std::string config;
  std::string domain;
  std::vector<std::string> regions;
  bool dry_run = false;
  double max_rows_per_s = 0;
};

// `cmo reconcile cdc`: a domain followed by change data capture, against the app's table.
int RunCdcReconcile(const CdcOptions& o, const GlobalOptions& global) {
  absl::StatusOr<ServeConfig> config = LoadServeConfig(o.config);
  if (!config.ok()) return ReportError(config.status());
  const shadow::CdcTable* table = nullptr;
  for (const shadow::CdcTable& t : config->cdc.options.tables) {
    if (t.domain == o.domain) table = &t;
  }
  if (config->cdc.source.empty() || table == nullptr) {
    return ReportError(absl::InvalidArgumentError(
        base::StrCat(o.config, ": domain ", o.domain, " is not followed by change data capture ",
                     "(no cdc: section, or its plan has no source for it); for domains written ",
                     "through cmo use `cmo reconcile run`")));
  }
  const std::vector<std::string> regions = o.regions.empty() ? config->regions : o.regions;
  nlohmann::json out = nlohmann::json::array();
  int exit_code = kExitOk;
  for (const std::string& region : regions) {
    absl::StatusOr<std::unique_ptr<store::ReplicaStore>> replica =
        store::ReplicaStore::Open(ReplicaUrl(*config, region));
    absl::StatusOr<CdcReconcileReport> r =
        replica.ok() ? ReconcileCdcDomain(**replica,
                                          {.source = config->cdc.source,
                                           .table = *table,
                                           .max_rows_per_s = o.max_rows_per_s,
                                           .dry_run = o.dry_run},
                                          base::SystemClock())
                     : absl::StatusOr<CdcReconcileReport>(replica.status());
    if (!r.ok()) {
      std::cerr << region << ": " << r.status().message() << "\n";
      exit_code = kExitFailed;
      continue;
    }
    nlohmann::json j = {{"region", region},
                        {"domain", o.domain},
                        {"source_rows", r->source_rows},
                        {"replica_rows", r->replica_rows},
                        {"differing_buckets", r->differing_buckets},
                        {"missing", r->missing},
                        {"resurrected", r->resurrected},
                        {"divergent", r->divergent},
                        {"settled", r->settled},
                        {"healed", r->healed},
                        {"dry_run", o.dry_run},
                        {"sample", r->sample},
                        {"seconds", r->seconds}};
    if (!global.json()) {
      std::cout << region << " " << o.domain << ": " << r->source_rows << " rows in "
                << table->table << ", " << r->replica_rows << " live on the replica; "
                << r->differing_buckets << " of " << r->buckets << " buckets differ: " << r->missing
                << " missing, " << r->resurrected << " resurrected, " << r->divergent
                << " divergent (" << r->settled << " were only behind); "
                << (o.dry_run ? "dry run, nothing healed" : base::StrCat(r->healed, " healed"))
                << "\n";
      for (const std::string& k : r->sample) std::cout << "  " << k << "\n";
    }
    out.push_back(std::move(j));
  }
  if (global.json()) PrintJson(out);
  return exit_code;
}

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

int RunReconcile(const RunOptions& o, const GlobalOptions& global) {
  auto out = CallApi(global, {"POST",
                              "/v1/reconcile",
                              {},
                              {{"domain", o.domain},
                               {"regions", o.regions},
                               {"dry_run", o.dry_run},
                               {"restart", o.restart},
                               {"max_rows_per_s", o.max_rows_per_s},
                               {"max_lag", o.max_lag},
                               {"policy", o.policy},
                               {"staleness_window", o.staleness_window}}});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  Table t({"region", "buckets", "differing", "rows scanned", "found", "healed", "in flight",
           "digest ms", "find+heal ms"});
  for (const nlohmann::json& r : *out) {
    auto n = [&](const char* f) { return base::StrCat(r[f].get<int64_t>()); };
    t.AddRow({r["region"], n("buckets"), n("differing_buckets"), n("rows_scanned"), n("found"),
              n("healed"), n("in_flight"),
              absl::StrFormat("%.1f", r["digest_compare_ms"].get<double>()),
              absl::StrFormat("%.1f", r["find_and_heal_ms"].get<double>())});
  }
  t.Print(std::cout);
  if (o.dry_run) std::cout << "dry run: nothing was changed or logged\n";
  return kExitOk;
}

struct JobOptions {
  std::string domain;
  std::string region;
  int64_t rows_per_s = 0;
};

int RunStatus(const GlobalOptions& global) {
  auto out = CallApi(global, {"GET", "/v1/reconcile"});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  Table t({"domain", "region", "state", "buckets", "rows", "rows/s", "found", "healed", "eta",
           "waiting"});
  for (const nlohmann::json& j : *out) {
    const std::string waiting = j["waiting"];
    t.AddRow(
        {j["domain"], j["region"], j["state"],
         base::StrCat(j["buckets_done"].get<int64_t>(), "/", j["buckets_total"].get<int64_t>()),
         base::StrCat(j["rows_scanned"].get<int64_t>()),
         base::StrCat(std::llround(j["rows_per_s"].get<double>())),
         base::StrCat(j["found"].get<int64_t>()), base::StrCat(j["healed"].get<int64_t>()),
         j["eta"], waiting.empty() ? "-" : waiting});
  }
  t.Print(std::cout);
  return kExitOk;
}

int RunSetState(const JobOptions& o, const std::string& verb, const GlobalOptions& global) {
  auto out =
      CallApi(global, {"POST", base::StrCat("/v1/reconcile/", o.domain, "/", o.region, "/", verb)});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
  } else {
    std::cout << "reconciliation of " << o.domain << " in " << o.region << ": "
              << (*out)["state"].get<std::string>() << "\n";
  }
  return kExitOk;
}

int RunThrottle(const JobOptions& o, const GlobalOptions& global) {
  auto out = CallApi(global, {"POST",
                              base::StrCat("/v1/reconcile/", o.domain, "/", o.region, "/throttle"),
                              {},
                              {{"rows_per_s", o.rows_per_s}}});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
  } else {
    std::cout << "reconciliation of " << o.domain << " in " << o.region << ": at most "
              << o.rows_per_s << " rows/s\n";
  }
  return kExitOk;
}

struct VerifyOptions {
  std::string domain;
};

// Full scan: recompute each store's bucket digests from its rows.
int RunVerify(const VerifyOptions& o, const GlobalOptions& global) {
  if (absl::Status s = RequireLocal(global, "reconcile verify"); !s.ok()) return ReportError(s);
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
  auto primary = shadow::OpenPrimary(global.state_dir, base::SystemClock());
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
  for (const std::string& region : shadow::ReplicaRegions(global.state_dir)) {
    auto replica = shadow::OpenReplica(global.state_dir, region);
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
  auto out = CallApi(
      global, {"POST", base::StrCat("/v1/reconcile/", o.domain, "/gc"), {}, {{"grace", o.grace}}});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  for (const auto& [where, count] : out->items()) {
    std::cout << where << ": " << count.get<int64_t>() << " tombstone(s) of " << o.domain
              << " older than " << o.grace << " collected\n";
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
  std::map<std::string, std::string> query = {{"since", o.since}};
  if (!o.user.empty()) query["user"] = o.user;
  if (!o.op.empty()) query["op"] = o.op;
  auto out = CallApi(global, {"GET", "/v1/divergence", query});
  if (!out.ok()) return ReportError(out.status());
  std::vector<reconcile::DivergenceRecord> records;
  for (const nlohmann::json& item : (*out)["items"]) {
    auto r = reconcile::RecordFromJson(item);
    if (!r.ok()) return ReportError(r.status());
    records.push_back(*std::move(r));
  }
  const std::string text =
      *format == reconcile::ReportFormat::kJson
          ? out->dump(2) + "\n"
          : reconcile::RenderReport(records, *format, {(*out)["title"], absl::Now()});
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
  std::cout << "wrote " << records.size() << " item(s) to " << o.file << "\n";
  return kExitOk;
}

}  // namespace

void SetupReconcileCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
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
  CLI::App* status =
      rec->add_subcommand("status", "Every reconciliation job: progress, rows/s, ETA");
  registry.On(status, [&global] { return RunStatus(global); });
  for (const char* verb : {"pause", "resume"}) {
    CLI::App* c = rec->add_subcommand(verb, std::string(verb) == "pause"
                                                ? "Pause a running job (it waits, checkpointed)"
                                                : "Resume a paused job");
    c->add_option("--domain", st->domain, "The job's domain")->required();
    c->add_option("--region", st->region, "The job's region")->required();
    const std::string v = verb;
    registry.On(c, [st, v, &global] { return RunSetState(*st, v, global); });
  }
  CLI::App* throttle = rec->add_subcommand("throttle", "Change a job's rows/s limit while it runs");
  throttle->add_option("--domain", st->domain, "The job's domain")->required();
  throttle->add_option("--region", st->region, "The job's region")->required();
  throttle->add_option("--rows-per-s", st->rows_per_s, "New limit (0 = unthrottled)")
      ->required()
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  registry.On(throttle, [st, &global] { return RunThrottle(*st, global); });

  auto c = std::make_shared<CdcOptions>();
  CLI::App* cdc = rec->add_subcommand(
      "cdc",
      "A domain followed by change data capture against the app's own table: value "
      "digests of both sides by scanning (throttled), rows compared in differing buckets "
      "only, healed from the table once the replica caught up with the read");
  cdc->add_option("--config", c->config, "The cmo serve config with the cdc: section")->required();
  cdc->add_option("--domain", c->domain, "The followed domain")->required();
  cdc->add_option("--region", c->regions, "Replica region(s) (default: every region of the config)")
      ->delimiter(',');
  cdc->add_flag("--dry-run", c->dry_run, "Find and classify; change nothing");
  cdc->add_option("--max-rows-per-s", c->max_rows_per_s,
                  "Throttle: rows of the app's table read per second (0 = unthrottled)")
      ->check(CLI::Range(0.0, 1e9));
  registry.On(cdc, [c, &global] { return RunCdcReconcile(*c, global); });

  auto v = std::make_shared<VerifyOptions>();
  CLI::App* verify = rec->add_subcommand(
      "verify",
      "Full scan: recompute every bucket digest from the rows (primary and replicas) "
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
