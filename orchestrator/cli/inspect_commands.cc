#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "base/strings.h"
#include "base/units.h"
#include "flags/flag_json.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"

namespace cmo::orchestrator {
namespace {

struct DecideOptions {
  std::string op;
  std::string subject;
  std::vector<std::string> context;  // NAME=VALUE
};

int RunDecide(const DecideOptions& o, const GlobalOptions& global) {
  std::map<std::string, std::string> query = {{"subject", o.subject}};
  for (const std::string& kv : o.context) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return ReportError(absl::InvalidArgumentError(base::StrCat(
          "--context \"", kv, "\": give NAME=VALUE, e.g. --context followers=250000")));
    }
    query[base::StrCat("context.", kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  auto d = CallApi(global, {"GET", base::StrCat("/v1/ops/", o.op, "/decide"), query});
  if (!d.ok()) return ReportError(d.status());
  if (global.json()) {
    PrintJson(*d);
    return kExitOk;
  }
  const int threshold = (*d)["threshold"].get<int>();
  Table t({"op", o.op});
  t.AddRow({"subject", o.subject});
  t.AddRow({"path", (*d)["path"].get<std::string>()});
  t.AddRow({"model", (*d)["target"].get<std::string>()});
  if (const nlohmann::json& tier = (*d)["tier"]; tier.is_object()) {
    t.AddRow({"tier", base::StrCat(tier["name"].get<std::string>(), " (plan ",
                                   tier["plan"].get<std::string>(), ", via ",
                                   tier["via"].get<std::string>(), ")")});
  }
  t.AddRow({"bucket", base::StrCat((*d)["bucket"].get<int>())});
  t.AddRow({"threshold", base::StrCat(threshold, " (", base::FormatBp(threshold), ")")});
  t.AddRow({"stage", (*d)["stage"].get<std::string>()});
  t.AddRow({"breaker", (*d)["breaker"].get<std::string>()});
  t.AddRow({"shadow", base::StrCat(base::FormatBp(static_cast<int32_t>(std::lround(
                                       (*d)["shadow_sample_percent"].get<double>() * 100))),
                                   " of reads compared")});
  if (const nlohmann::json& ov = (*d)["override"]; ov.is_object()) {
    t.AddRow({"override", base::StrCat("#", ov["id"].get<int64_t>(), " strong (",
                                       ov["scope"].get<std::string>(), ") until ",
                                       ov["expires"].get<std::string>())});
  }
  t.AddRow({"why", (*d)["why"].get<std::string>()});
  t.Print(std::cout);
  return kExitOk;
}

struct HistoryOptions {
  std::string op;
  int limit = 50;
};

// One cell for the before/after of an audit entry: a flag, a plan's progress or a plan.
std::string Summary(const nlohmann::json& j) {
  if (!j.is_object()) return "-";
  if (j.contains("stage")) {
    return base::StrCat(j.value("stage", "?"), " ", base::FormatBp(j.value("ramp_bp", 0)));
  }
  if (j.contains("step")) {
    return base::StrCat("step ", j.value("step", -1) + 1, j.value("paused", false) ? " paused" : "",
                        j.value("manual_approved", false) ? " approved" : "");
  }
  if (j.contains("digest")) return base::StrCat("plan ", j.value("digest", "").substr(0, 8));
  if (j.contains("scope") && j.contains("subject")) {
    return base::StrCat("override #", j.value("id", 0), " ", j.value("subject", ""), " strong (",
                        j.value("scope", ""), ") until ", j.value("expires", ""));
  }
  if (j.value("removed", false)) return "removed";
  return "-";
}

int RunHistory(const HistoryOptions& o, const GlobalOptions& global) {
  std::map<std::string, std::string> query = {{"limit", base::StrCat(o.limit)}};
  if (!o.op.empty()) query["op"] = o.op;
  auto entries = CallApi(global, {"GET", "/v1/audit", query});
  if (!entries.ok()) return ReportError(entries.status());
  if (global.json()) {
    PrintJson(*entries);
    return kExitOk;
  }
  Table t({"REV", "TIME (UTC)", "ACTOR", "OP", "ACTION", "CHANGE", "REASON"});
  for (const nlohmann::json& e : *entries) {
    absl::Time at;
    std::string err;
    std::string when = e.value("at", "");
    if (absl::ParseTime(absl::RFC3339_full, when, &at, &err)) {
      when = absl::FormatTime("%Y-%m-%d %H:%M:%S", at, absl::UTCTimeZone());
    }
    t.AddRow({base::StrCat(e.value("revision", int64_t{0})), when, e.value("actor", ""),
              e.value("op", ""), e.value("action", ""),
              base::StrCat(Summary(e["before"]), " -> ", Summary(e["after"])),
              e.value("reason", "")});
  }
  t.Print(std::cout);
  return kExitOk;
}

}  // namespace

void SetupInspectCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto d = std::make_shared<DecideOptions>();
  CLI::App* decide = app.add_subcommand(
      "decide",
      "Show which path and model a subject gets for an op, and why (bucket vs threshold, tier, "
      "support override)");
  decide->add_option("op", d->op, "Op name")->required();
  decide->add_option("subject", d->subject, "Subject (usually a user id)")->required();
  decide->add_option("--context", d->context,
                     "An attribute of the request, NAME=VALUE (repeatable), as the app passes it "
                     "to the client library: tier rules match on these (e.g. followers=250000)");
  registry.On(decide, [d, &global] { return RunDecide(*d, global); });

  auto h = std::make_shared<HistoryOptions>();
  CLI::App* history = app.add_subcommand("history", "Show the audit log, newest first");
  history->add_option("op", h->op, "Only this op");
  history->add_option("--limit", h->limit, "At most this many entries")
      ->check(CLI::Range(1, 1000000));
  registry.On(history, [h, &global] { return RunHistory(*h, global); });
}

}  // namespace cmo::orchestrator
