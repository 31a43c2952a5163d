#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "base/postgres.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/units.h"
#include "migrations/plan_executor.h"
#include "migrations/plan_parser.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"
#include "orchestrator/service/executor_lock.h"
#include "orchestrator/service/serve_config.h"
#include "orchestrator/service/stop_signals.h"
#include "shadow/cdc_tables.h"

namespace cmo::orchestrator {
namespace {

using base::StrCat;

std::string GateList(const migrations::Step& s) {
  std::vector<std::string> texts;
  for (const migrations::Gate& g : s.gates) texts.push_back(g.text);
  return texts.empty() ? "" : StrCat("gates: ", base::StrJoin(texts, ", "));
}

void PrintSummary(const std::string& file, const migrations::Plan& plan) {
  int critical = 0;
  for (const auto& o : plan.ops) critical += o.op_class == flags::OpClass::kCritical;
  std::cout << file << ": valid\n"
            << "plan " << plan.name << ": " << plan.ops.size() << " ops (" << critical
            << " critical, staying strong), regions: " << plan.regions.size()
            << ", tiers: " << plan.tiers.size() << ", phases: " << plan.phases.size() << "\n";
  for (const migrations::Domain& d : plan.domains) {
    if (!d.has_source) continue;
    std::cout << "  domain " << d.name << " follows table " << d.source.table << " (key "
              << base::StrJoin(d.source.key, ", ") << ") by change data capture\n";
  }
  for (const migrations::Phase& p : plan.phases) {
    std::cout << "  phase " << p.name << ": " << base::StrJoin(p.ops, ", ") << "\n"
              << "    at best " << base::HumanDuration(p.ExpectedDuration()) << "; on breach "
              << migrations::BreachActionName(p.rollback.on_breach) << " to "
              << flags::StageName(p.rollback.to) << ", rollback kept possible for "
              << base::HumanDuration(p.RollbackWindow()) << "\n";
    Table steps({"", "", ""});
    int n = 0;
    for (const migrations::Step& s : p.steps) {
      steps.AddRow({StrCat("    ", ++n, "."), migrations::DescribeStep(s), GateList(s)});
    }
    std::ostringstream out;
    steps.Print(out);
    std::string text = out.str();
    std::cout << text.substr(text.find('\n') + 1);  // drop the empty header row
  }
}

nlohmann::json PlanJson(const std::string& file, const migrations::Plan& plan) {
  nlohmann::json phases = nlohmann::json::array();
  for (const migrations::Phase& p : plan.phases) {
    nlohmann::json steps = nlohmann::json::array();
    for (const migrations::Step& s : p.steps) {
      nlohmann::json gates = nlohmann::json::array();
      for (const migrations::Gate& g : s.gates) gates.push_back(g.text);
      steps.push_back({{"stage", flags::StageName(s.stage)},
                       {"percent", s.ramp_bp / 100.0},
                       {"hold_ms", absl::ToInt64Milliseconds(s.hold)},
                       {"gates", gates}});
    }
    phases.push_back({{"name", p.name}, {"ops", p.ops}, {"steps", steps}});
  }
  nlohmann::json domains = nlohmann::json::array();
  for (const migrations::Domain& d : plan.domains) {
    nlohmann::json j = {{"name", d.name}};
    if (d.has_source) {
      j["source"] = {{"table", d.source.table}, {"key", d.source.key}};
      if (!d.source.subject.empty()) j["source"]["subject"] = d.source.subject;
    }
    domains.push_back(std::move(j));
  }
  return {{"file", file},
          {"valid", true},
          {"plan", plan.name},
          {"phases", phases},
          {"domains", domains}};
}

struct ValidateOptions {
  std::vector<std::string> files;
  std::string live;  // the source database: check the plan's followed tables against it
  std::string publication = "cmo_cdc";
};

// The plan's followed tables against the live database: a diagnostic per table it could not
// follow, at the domain's line. kUnavailable when the database cannot be reached.
absl::StatusOr<std::vector<migrations::Diagnostic>> CheckLive(const migrations::Plan& plan,
                                                              const ValidateOptions& o) {
  std::vector<migrations::Diagnostic> out;
  const std::vector<shadow::CdcTable> tables = CdcTables(plan);
  if (tables.empty()) return out;
  CMO_ASSIGN_OR_RETURN(std::unique_ptr<base::PgConnection> db, base::PgConnection::Connect(o.live));
  for (const migrations::Domain& d : plan.domains) {
    if (!d.has_source) continue;
    const shadow::CdcTable t = {d.name, d.source.table, d.source.key, d.source.subject};
    absl::StatusOr<shadow::CdcTableInfo> info = shadow::DescribeCdcTable(*db, t);
    if (absl::IsUnavailable(info.status())) return info.status();
    if (!info.ok()) out.push_back({d.pos, std::string(info.status().message())});
  }
  if (absl::Status s = shadow::CheckPublication(*db, o.publication, tables); !s.ok()) {
    if (absl::IsUnavailable(s)) return s;
    out.push_back({plan.domains.front().pos, std::string(s.message())});
  }
  return out;
}

int RunValidate(const ValidateOptions& o, const GlobalOptions& global) {
  int exit_code = kExitOk;
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& file : o.files) {
    auto text = migrations::ReadPlanText(file);
    if (!text.ok()) {
      exit_code = kExitInvalidInput;
      std::cerr << text.status().message() << "\n";
      results.push_back(
          {{"file", file}, {"valid", false}, {"errors", {std::string(text.status().message())}}});
      continue;
    }
    migrations::ParseResult r = migrations::ParsePlan(*text);
    if (r.ok() && !o.live.empty()) {
      absl::StatusOr<std::vector<migrations::Diagnostic>> live = CheckLive(r.plan, o);
      if (!live.ok()) {
        std::cerr << file << ": --live: " << live.status().message() << "\n";
        return kExitFailed;
      }
      r.errors = *std::move(live);
    }
    if (r.ok()) {
      if (global.json()) {
        results.push_back(PlanJson(file, r.plan));
      } else {
        PrintSummary(file, r.plan);
      }
      continue;
    }
    exit_code = kExitInvalidInput;
    nlohmann::json errors = nlohmann::json::array();
    for (const migrations::Diagnostic& d : r.errors) {
      std::cerr << migrations::FormatDiagnostic(file, d) << "\n";
      errors.push_back({{"line", d.pos.line}, {"column", d.pos.column}, {"message", d.message}});
    }
    results.push_back({{"file", file}, {"valid", false}, {"errors", errors}});
  }
  if (global.json()) PrintJson(results);
  return exit_code;
}

struct ApplyOptions {
  std::string file;
  std::string reason;
  bool force = false;
};

int RunApply(const ApplyOptions& o, const GlobalOptions& global) {
  auto text = migrations::ReadPlanText(o.file);
  if (!text.ok()) return ReportError(absl::InvalidArgumentError(text.status().message()));
  auto out = CallApi(
      global, {"POST",
               "/v1/plans",
               {},
               {{"file", o.file}, {"yaml", *text}, {"reason", o.reason}, {"force", o.force}}});
  if (!out.ok()) return ReportError(out.status());
  const auto registered = (*out)["registered"].get<std::vector<std::string>>();
  const auto replanned = (*out)["replanned"].get<std::vector<std::string>>();
  const std::string plan = (*out)["plan"].get<std::string>();
  if (global.json()) {
    PrintJson(*out);
  } else if ((*out)["unchanged"].get<bool>()) {
    std::cout << "plan " << plan << ": unchanged (already applied)\n";
  } else {
    std::cout << "plan " << plan << " applied from " << o.file;
    if (!registered.empty()) std::cout << "; registered " << base::StrJoin(registered, ", ");
    if (!replanned.empty()) {
      std::cout << "; replanned mid-migration: " << base::StrJoin(replanned, ", ");
    }
    std::cout << "\na running `cmo serve` carries it out (without a server: `cmo plan run`); "
                 "follow it with `cmo plan status`\n";
  }
  return kExitOk;
}

int RunStatus(const GlobalOptions& global) {
  auto status = CallApi(global, {"GET", "/v1/plans"});
  if (!status.ok()) return ReportError(status.status());
  if (global.json()) {
    PrintJson(*status);
    return kExitOk;
  }
  if (status->empty()) {
    std::cout << "no plan applied; validate one with `cmo plan validate FILE` and apply it with "
                 "`cmo plan apply FILE`\n";
    return kExitOk;
  }
  Table t({"OP", "PLAN", "PHASE", "STEP", "STAGE", "PERCENT", "IN STEP", "STATE"});
  for (const nlohmann::json& st : *status) {
    const int step = st["step"].get<int>();  // 1-based; 0 = not started
    const int steps = st["steps"].get<int>();
    t.AddRow({st["op"], st["plan"], st["phase"],
              step <= 0 ? StrCat("-/", steps)
                        : StrCat(step, "/", steps, " ", st["step_description"].get<std::string>()),
              st["stage"],
              base::FormatBp(static_cast<int32_t>(std::lround(st["percent"].get<double>() * 100))),
              step <= 0
                  ? "-"
                  : base::HumanDuration(absl::Seconds(st["time_in_step_ms"].get<int64_t>() / 1000)),
              st["state"]});
  }
  t.Print(std::cout);
  bool header = false;
  for (const nlohmann::json& st : *status) {
    for (const nlohmann::json& g : st["gates"]) {
      if (!header) {
        std::cout << "\ngates of the current steps:\n";
        header = true;
      }
      std::cout << "  " << st["op"].get<std::string>() << ": " << g["condition"].get<std::string>()
                << "  measured " << g["measured"].get<std::string>() << "  "
                << g.value("verdict", g["holds"].get<bool>() ? "pass" : "fail") << "\n";
    }
  }
  return kExitOk;
}

struct RunOptions {
  std::string interval = "1s";
  bool once = false;
};

int RunExecutorLoop(const RunOptions& o, const GlobalOptions& global) {
  auto interval = base::ParseDuration(o.interval);
  if (!interval.ok() || *interval <= absl::ZeroDuration()) {
    return ReportError(absl::InvalidArgumentError(
        StrCat("--interval: \"", o.interval, "\" is not a positive duration, e.g. 1s or 250ms")));
  }
  if (absl::Status s = RequireLocal(global, "plan run"); !s.ok()) return ReportError(s);
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  // Never beside a live `cmo serve` (which runs the executor) or another `plan run`.
  auto lock = ExecutorLock::Acquire(global.state_dir, "cmo plan run");
  if (!lock.ok()) return ReportError(lock.status());
  // SIGTERM/SIGINT end the loop between ticks: a tick is never cut in half by us (and a
  // kill -9 inside one is safe: every step commits atomically with its progress).
  const StopSignals stop;
  for (;;) {
    auto events = (*state)->executor->Tick();
    if (!events.ok()) return ReportError(events.status());
    for (const migrations::TickEvent& e : *events) {
      std::cout << absl::FormatTime("%H:%M:%S ", absl::Now(), absl::UTCTimeZone()) << e.op << ": "
                << e.what << std::endl;
    }
    if (o.once) return kExitOk;
    if (stop.Wait(*interval) != 0) {
      std::cout << "plan executor stopped" << std::endl;
      return kExitOk;
    }
  }
}

struct PauseOptions {
  std::string op;
  bool all = false;
  std::string reason;
};

int RunPause(const PauseOptions& o, const GlobalOptions& global, bool paused) {
  if (o.op.empty() == !o.all) {
    return ReportError(absl::InvalidArgumentError("name one op, or pass --all (not both)"));
  }
  auto out = CallApi(global, {"POST",
                              StrCat("/v1/ops/", o.all ? "*" : o.op, paused ? "/pause" : "/resume"),
                              {},
                              {{"reason", o.reason}}});
  if (!out.ok()) return ReportError(out.status());
  const auto changed = (*out)["changed"].get<std::vector<std::string>>();
  if (global.json()) {
    PrintJson(*out);
  } else if (changed.empty()) {
    std::cout << "nothing to do: already " << (paused ? "paused" : "running") << "\n";
  } else {
    std::cout << (paused ? "paused " : "resumed ") << base::StrJoin(changed, ", ") << "\n";
  }
  return kExitOk;
}

void SetupPause(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry,
                bool paused) {
  auto o = std::make_shared<PauseOptions>();
  CLI::App* cmd =
      app.add_subcommand(paused ? "pause" : "resume",
                         paused ? "Stop a plan from advancing an op (or every op with --all)"
                                : "Let a plan advance an op again (or every op with --all)");
  cmd->add_option("op", o->op, "Op name");
  cmd->add_flag("--all", o->all, "Every op driven by a plan");
  cmd->add_option("--reason", o->reason, "Why, for the audit log")->required();
  registry.On(cmd, [o, &global, paused] { return RunPause(*o, global, paused); });
}

}  // namespace

void SetupPlanCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  CLI::App* plan = app.add_subcommand("plan", "Validate, apply and follow migration plans");
  plan->require_subcommand(1);

  auto v = std::make_shared<ValidateOptions>();
  CLI::App* validate = plan->add_subcommand(
      "validate", "Check plan files; print every error as FILE:LINE:COL (exit 2) or a summary");
  validate->add_option("files", v->files, "Plan files (YAML)")->required();
  validate->add_option("--live", v->live,
                       "The source database (postgresql://...): check the tables the plan's "
                       "domains follow (exist, key = replica identity, in the publication)");
  validate
      ->add_option("--publication", v->publication,
                   "With --live: the publication the relay follows")
      ->capture_default_str();
  registry.On(validate, [v, &global] { return RunValidate(*v, global); });

  auto a = std::make_shared<ApplyOptions>();
  CLI::App* apply = plan->add_subcommand(
      "apply", "Register a plan and its ops (idempotent for unchanged content)");
  apply->add_option("file", a->file, "Plan file (YAML)")->required();
  apply->add_option("--reason", a->reason, "Why, for the audit log")->required();
  apply->add_flag("--force", a->force,
                  "Allow changing the plan of ops that are mid-migration (audited)");
  registry.On(apply, [a, &global] { return RunApply(*a, global); });

  CLI::App* status = plan->add_subcommand(
      "status", "Every plan-driven op: stage, step, gates with measured values, time in step");
  registry.On(status, [&global] { return RunStatus(global); });

  auto r = std::make_shared<RunOptions>();
  CLI::App* run = plan->add_subcommand(
      "run",
      "Carry out applied plans without a server: advance steps whose gates held for their hold "
      "time. `cmo serve` runs the executor itself; this refuses to run beside it (or beside "
      "another `plan run`) on the same state dir");
  run->add_option("--interval", r->interval, "Time between evaluations (default 1s)");
  run->add_flag("--once", r->once, "Evaluate once and exit");
  registry.On(run, [r, &global] { return RunExecutorLoop(*r, global); });

  SetupPause(app, global, registry, /*paused=*/true);
  SetupPause(app, global, registry, /*paused=*/false);
}

}  // namespace cmo::orchestrator
