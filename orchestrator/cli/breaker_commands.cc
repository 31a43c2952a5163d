// `cmo breakers`, `cmo breaker reset OP --reason TEXT`, `cmo budget OP`.
#include <iostream>
#include <memory>

#include "absl/time/clock.h"
#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/budget/budget_controller.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"

namespace cmo::orchestrator {
namespace {

std::string Ago(absl::Time t) {
  if (t == absl::UnixEpoch()) return "-";
  return base::StrCat(base::HumanDuration(absl::Now() - t), " ago");
}

int RunBreakers(const GlobalOptions& global) {
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  auto breakers = BreakerStore::Open((*state)->flags->db());
  if (!breakers.ok()) return ReportError(breakers.status());
  auto flags = (*state)->flags->List();
  if (!flags.ok()) return ReportError(flags.status());
  nlohmann::json out = nlohmann::json::array();
  Table t({"op", "breaker", "frozen", "since", "trips", "cooldown", "reason"});
  for (const flags::Flag& f : *flags) {
    auto r = (*breakers)->Get(f.op);
    if (!r.ok()) return ReportError(r.status());
    out.push_back({{"op", f.op},
                   {"breaker", flags::BreakerStateName(f.breaker)},
                   {"frozen", r->frozen},
                   {"since_ms", absl::ToUnixMillis(r->since)},
                   {"trips", r->trips},
                   {"cooldown_ms", absl::ToInt64Milliseconds(r->cooldown)},
                   {"reason", r->reason}});
    t.AddRow({f.op, std::string(flags::BreakerStateName(f.breaker)), r->frozen ? "yes" : "no",
              Ago(r->since), base::StrCat(r->trips),
              r->cooldown == absl::ZeroDuration() ? "-" : base::FormatDuration(r->cooldown),
              r->reason.empty() ? "-" : r->reason});
  }
  if (global.json()) {
    PrintJson(out);
  } else {
    t.Print(std::cout);
  }
  return kExitOk;
}

struct ResetOptions {
  std::string op;
  std::string reason;
};

int RunReset(const ResetOptions& o, const GlobalOptions& global) {
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  auto controller =
      BudgetController::Create(*(*state)->flags, *(*state)->plans, base::SystemClock());
  if (!controller.ok()) return ReportError(controller.status());
  auto t = (*controller)->Reset(o.op, {Actor(), o.reason, "breaker.reset", false});
  if (!t.ok()) return ReportError(t.status());
  if (global.json()) {
    PrintJson({{"op", o.op}, {"breaker", "closed"}, {"reason", t->record.reason}});
  } else {
    std::cout << o.op << ": breaker closed (" << t->record.reason << ")\n";
  }
  return kExitOk;
}

struct BudgetOptions {
  std::string op;
};

std::string Value(const nlohmann::json& s, const char* field) {
  const nlohmann::json& v = s[field];
  const std::string unit = s["unit"];
  if (!v.is_number()) return v.dump();
  const double x = v.get<double>();
  if (unit == "ppm") return base::FormatPpm(std::llround(x));
  if (unit == "ms") return base::StrCat(std::llround(x), "ms");
  return base::StrCat(std::llround(x));
}

int RunBudget(const BudgetOptions& o, const GlobalOptions& global) {
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  if (auto f = (*state)->flags->Get(o.op); !f.ok()) return ReportError(f.status());
  auto breakers = BreakerStore::Open((*state)->flags->db());
  if (!breakers.ok()) return ReportError(breakers.status());
  auto status = (*breakers)->GetStatus(o.op);
  if (!status.ok()) return ReportError(status.status());
  if (!status->has_value()) {
    return ReportError(absl::FailedPreconditionError(base::StrCat(
        "no budget evaluation for ", o.op,
        " yet: `cmo serve` evaluates ops in shadow stage or later while clients send telemetry")));
  }
  nlohmann::json j = nlohmann::json::parse((*status)->second, nullptr, false);
  if (j.is_discarded()) {
    return ReportError(absl::DataLossError(base::StrCat("stored budget status of ", o.op,
                                                        " is not JSON; it is rewritten by the "
                                                        "next evaluation")));
  }
  j["op"] = o.op;
  j["evaluated_ms"] = absl::ToUnixMillis((*status)->first);
  if (global.json()) {
    PrintJson(j);
    return kExitOk;
  }
  std::cout << o.op << ": budget \"" << j.value("budget", "default") << "\", evaluated "
            << Ago((*status)->first) << "; short window "
            << base::FormatDuration(absl::Milliseconds(j.value("short_window_ms", 0)))
            << ", long window "
            << base::FormatDuration(absl::Milliseconds(j.value("long_window_ms", 0))) << "\n";
  Table t({"sli", "short", "long", "budget", "burn short", "burn long", "left", "trips when"});
  for (const nlohmann::json& s : j["slis"]) {
    auto burn = [](const nlohmann::json& b) {
      return b.is_number() ? base::StrCat(std::round(b.get<double>() * 10) / 10, "x")
                           : std::string("inf");
    };
    t.AddRow({s["name"], Value(s, "short"), Value(s, "long"), Value(s, "limit"),
              burn(s["burn_short"]), burn(s["burn_long"]),
              base::StrCat(std::llround(s["remaining"].get<double>() * 100), "%"),
              s["trips_when"]});
  }
  t.Print(std::cout);
  std::cout << (j["breach"].get<bool>() ? base::StrCat("BREACH: ", j["reason"].get<std::string>())
                                        : std::string("within budget"))
            << "\n";
  return kExitOk;
}

}  // namespace

void SetupBreakerCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  CLI::App* list = app.add_subcommand("breakers", "Every op's breaker: state, since, trips, why");
  registry.On(list, [&global] { return RunBreakers(global); });

  CLI::App* breaker = app.add_subcommand("breaker", "Act on an op's circuit breaker");
  breaker->require_subcommand(1);
  auto r = std::make_shared<ResetOptions>();
  CLI::App* reset = breaker->add_subcommand(
      "reset", "Close an op's breaker (and clear a freeze) now; audited with your reason");
  reset->add_option("op", r->op, "The op")->required();
  reset->add_option("--reason", r->reason, "Why (recorded in the audit log)")->required();
  registry.On(reset, [r, &global] { return RunReset(*r, global); });

  auto b = std::make_shared<BudgetOptions>();
  CLI::App* budget = app.add_subcommand(
      "budget", "An op's consistency budget: SLIs, burn rates, what is left, what would trip it");
  budget->add_option("op", b->op, "The op")->required();
  registry.On(budget, [b, &global] { return RunBudget(*b, global); });
}

}  // namespace cmo::orchestrator
