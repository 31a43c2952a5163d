#include <iostream>
#include <memory>
#include <optional>

#include "absl/time/time.h"
#include "base/strings.h"
#include "base/units.h"
#include "flags/flag_json.h"
#include "flags/snapshot.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"

namespace cmo::orchestrator {
namespace {

struct DecideOptions {
  std::string op;
  std::string subject;
};

// Says in words why the subject got its path: the question support asks.
std::string WhyPath(const flags::Flag& f, const flags::Decision& d) {
  if (f.op_class == flags::OpClass::kCritical) return "critical op: always strong";
  if (f.breaker == flags::BreakerState::kOpen) return "breaker open: op forced to strong";
  if (d.threshold_bp == 0) {
    return base::StrCat("stage ", flags::StageName(f.stage), " serves every read strong");
  }
  const std::string share = base::FormatBp(d.threshold_bp);
  const std::string breaker =
      f.breaker == flags::BreakerState::kHalfOpen ? " (breaker half-open: probe share)" : "";
  if (d.path == flags::Path::kEventual) {
    return base::StrCat("bucket ", d.bucket, " < threshold ", d.threshold_bp, ": inside the ",
                        share, " eventual share", breaker);
  }
  return base::StrCat("bucket ", d.bucket, " >= threshold ", d.threshold_bp, ": outside the ",
                      share, " eventual share", breaker);
}

int RunDecide(const DecideOptions& o, const GlobalOptions& global) {
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  flags::FlagStore* store = (*state)->flags.get();
  auto flag = store->Get(o.op);
  if (!flag.ok()) return ReportError(flag.status());
  auto snapshot = store->LoadSnapshot();
  if (!snapshot.ok()) return ReportError(snapshot.status());
  const flags::Decision d = (*snapshot)->Route(o.op, o.subject);
  const std::string why = WhyPath(*flag, d);
  if (global.json()) {
    PrintJson({{"op", o.op},
               {"subject", o.subject},
               {"path", flags::PathName(d.path)},
               {"bucket", d.bucket},
               {"threshold", d.threshold_bp},
               {"stage", flags::StageName(d.stage)},
               {"breaker", flags::BreakerStateName(flag->breaker)},
               {"shadow_sample_percent", flags::BpToPercent(d.shadow_bp)},
               {"salt", flag->salt},
               {"revision", (*snapshot)->revision()},
               {"why", why}});
    return kExitOk;
  }
  Table t({"op", o.op});
  t.AddRow({"subject", o.subject});
  t.AddRow({"path", std::string(flags::PathName(d.path))});
  t.AddRow({"bucket", base::StrCat(d.bucket)});
  t.AddRow({"threshold", base::StrCat(d.threshold_bp, " (", base::FormatBp(d.threshold_bp), ")")});
  t.AddRow({"stage", std::string(flags::StageName(d.stage))});
  t.AddRow({"breaker", std::string(flags::BreakerStateName(flag->breaker))});
  t.AddRow({"shadow", base::StrCat(base::FormatBp(d.shadow_bp), " of reads compared")});
  t.AddRow({"why", why});
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
  return "-";
}

int RunHistory(const HistoryOptions& o, const GlobalOptions& global) {
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  flags::FlagStore* store = (*state)->flags.get();
  std::optional<std::string_view> op;
  if (!o.op.empty()) {
    if (auto f = store->Get(o.op); !f.ok() && !o.op.starts_with("plan:")) {
      return ReportError(f.status());
    }
    op = o.op;
  }
  auto entries = store->History(op, o.limit);
  if (!entries.ok()) return ReportError(entries.status());
  if (global.json()) {
    nlohmann::json out = nlohmann::json::array();
    for (const flags::AuditEntry& e : *entries) {
      out.push_back({{"revision", e.revision},
                     {"at", absl::FormatTime(absl::RFC3339_full, e.at, absl::UTCTimeZone())},
                     {"actor", e.actor},
                     {"op", e.op},
                     {"action", e.action},
                     {"before", e.before},
                     {"after", e.after},
                     {"reason", e.reason}});
    }
    PrintJson(out);
    return kExitOk;
  }
  Table t({"REV", "TIME (UTC)", "ACTOR", "OP", "ACTION", "CHANGE", "REASON"});
  for (const flags::AuditEntry& e : *entries) {
    t.AddRow({base::StrCat(e.revision),
              absl::FormatTime("%Y-%m-%d %H:%M:%S", e.at, absl::UTCTimeZone()), e.actor, e.op,
              e.action, base::StrCat(Summary(e.before), " -> ", Summary(e.after)), e.reason});
  }
  t.Print(std::cout);
  return kExitOk;
}

}  // namespace

void SetupInspectCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto d = std::make_shared<DecideOptions>();
  CLI::App* decide = app.add_subcommand(
      "decide", "Show which path a subject gets for an op, and why (bucket vs threshold)");
  decide->add_option("op", d->op, "Op name")->required();
  decide->add_option("subject", d->subject, "Subject (usually a user id)")->required();
  registry.On(decide, [d, &global] { return RunDecide(*d, global); });

  auto h = std::make_shared<HistoryOptions>();
  CLI::App* history = app.add_subcommand("history", "Show the audit log, newest first");
  history->add_option("op", h->op, "Only this op");
  history->add_option("--limit", h->limit, "At most this many entries")
      ->check(CLI::Range(1, 1000000));
  registry.On(history, [h, &global] { return RunHistory(*h, global); });
}

}  // namespace cmo::orchestrator
