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

std::string Hex(uint64_t h) { return h == 0 ? "" : absl::StrFormat("%016x", h); }

// The divergence-log record of one reconciliation finding.
reconcile::DivergenceRecord Record(const reconcile::KeyDiff& d, const std::string& region,
                                   int partitions, absl::Time now) {
  reconcile::DivergenceRecord r;
  r.domain = d.domain;
  r.key = d.key;
  r.diff_class = std::string(reconcile::DiffClassName(d.diff_class));
  r.region = region;
  r.primary_lsn = d.primary_lsn;
  r.replica_lsn = d.replica_lsn;
  r.partition = partitions > 0 ? shadow::PartitionOf(d.key, partitions) : -1;
  r.primary_digest = Hex(d.primary_hash);
  r.replica_digest = Hex(d.replica_hash);
  r.detected_by = "reconcile";
  r.detected_at = now;
  if (!d.heal.empty()) {
    r.healed_at = now;
    r.heal_action = d.heal;
  }
  return r;
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
    auto report = reconcile::Reconcile(**primary, **replica, ro, base::SystemClock());
    if (!report.ok()) return ReportError(report.status());
    const absl::Time now = absl::Now();
    std::vector<reconcile::DivergenceRecord> records;
    nlohmann::json diffs = nlohmann::json::array();
    for (const reconcile::KeyDiff& d : report->diffs) {
      diffs.push_back({{"key", d.key},
                       {"class", reconcile::DiffClassName(d.diff_class)},
                       {"primary_lsn", d.primary_lsn},
                       {"replica_lsn", d.replica_lsn},
                       {"in_flight", d.in_flight},
                       {"heal", d.heal}});
      if (!d.in_flight && !o.dry_run) records.push_back(Record(d, region, *partitions, now));
    }
    if (absl::Status s = (*log)->Append(records); !s.ok()) return ReportError(s);
    out.push_back({{"region", region},
                   {"domain", o.domain},
                   {"dry_run", o.dry_run},
                   {"policy", o.policy},
                   {"buckets", report->buckets},
                   {"differing_buckets", report->differing_buckets},
                   {"rows_scanned", report->rows_scanned},
                   {"found", report->diffs.size()},
                   {"healed", report->healed},
                   {"in_flight", report->in_flight},
                   {"raced", report->raced},
                   {"digest_compare_ms", report->digest_compare_ms},
                   {"find_and_heal_ms", report->find_and_heal_ms},
                   {"diffs", diffs}});
    t.AddRow({region, base::StrCat(report->buckets), base::StrCat(report->differing_buckets),
              base::StrCat(report->rows_scanned), base::StrCat(report->diffs.size()),
              base::StrCat(report->healed), base::StrCat(report->in_flight),
              absl::StrFormat("%.1f", report->digest_compare_ms),
              absl::StrFormat("%.1f", report->find_and_heal_ms)});
  }
  if (global.json()) {
    PrintJson(out);
  } else {
    t.Print(std::cout);
    if (o.dry_run) std::cout << "dry run: nothing was changed or logged\n";
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
  run->add_option("--policy", r->policy,
                  "primary_wins (default), last_writer_wins or merge (JSON-array sets)");
  run->add_option("--staleness-window", r->staleness_window,
                  "Lag younger than this, above the replica's watermark, is left to the applier "
                  "(default 30s)");
  registry.On(run, [r, &global] { return RunReconcile(*r, global); });

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
