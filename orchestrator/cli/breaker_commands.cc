// `cmo breakers`, `cmo breaker reset OP --reason TEXT`, `cmo budget OP`.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "base/json.h"
#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"

namespace cmo::orchestrator {
namespace {

std::string Ago(absl::Time t) {
  if (t == absl::UnixEpoch()) return "-";
  return base::StrCat(base::HumanDuration(absl::Now() - t), " ago");
}

int RunBreakers(const GlobalOptions& global) {
  auto out = CallApi(global, {"GET", "/v1/breakers"});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  Table t({"op", "breaker", "frozen", "since", "trips", "cooldown", "reason"});
  for (const nlohmann::json& b : *out) {
    const absl::Duration cooldown = absl::Milliseconds(b["cooldown_ms"].get<int64_t>());
    const std::string reason = b["reason"];
    t.AddRow({b["op"], b["breaker"], b["frozen"].get<bool>() ? "yes" : "no",
              Ago(absl::FromUnixMillis(b["since_ms"].get<int64_t>())),
              base::StrCat(b["trips"].get<int64_t>()),
              cooldown == absl::ZeroDuration() ? "-" : base::FormatDuration(cooldown),
              reason.empty() ? "-" : reason});
  }
  t.Print(std::cout);
  return kExitOk;
}

struct ResetOptions {
  std::string op;
  std::string reason;
};

int RunReset(const ResetOptions& o, const GlobalOptions& global) {
  auto out = CallApi(global,
                     {"POST", base::StrCat("/v1/breakers/", o.op, "/reset"), {}, {{"reason", o.reason}}});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
  } else {
    std::cout << o.op << ": breaker closed (" << (*out)["reason"].get<std::string>() << ")\n";
  }
  return kExitOk;
}

struct BudgetOptions {
  std::string op;
};

std::string Value(const nlohmann::json& s, const char* field) {
  const nlohmann::json& v = s[field];
  const std::string unit = s["unit"];
  if (!v.is_number()) return base::JsonText(v);
  const double x = v.get<double>();
  if (unit == "ppm") return base::FormatPpm(std::llround(x));
  if (unit == "ms") return base::StrCat(std::llround(x), "ms");
  return base::StrCat(std::llround(x));
}

int RunBudget(const BudgetOptions& o, const GlobalOptions& global) {
  auto out = CallApi(global, {"GET", base::StrCat("/v1/ops/", o.op, "/budget")});
  if (!out.ok()) return ReportError(out.status());
  const nlohmann::json& j = *out;
  const absl::Time evaluated = absl::FromUnixMillis(j.value("evaluated_ms", int64_t{0}));
  if (global.json()) {
    PrintJson(j);
    return kExitOk;
  }
  std::cout << o.op << ": budget \"" << j.value("budget", "default") << "\", evaluated "
            << Ago(evaluated) << "; short window "
            << base::FormatDuration(absl::Milliseconds(j.value("short_window_ms", 0)))
            << ", long window "
            << base::FormatDuration(absl::Milliseconds(j.value("long_window_ms", 0))) << "\n";
  Table t({"sli", "short", "long", "budget", "burn short", "burn long", "left", "trips when"});
  std::vector<std::string> no_data;
  for (const nlohmann::json& s : j["slis"]) {
    auto burn = [](const nlohmann::json& b) {
      return b.is_number() ? base::StrCat(std::round(b.get<double>() * 10) / 10, "x")
                           : std::string("inf");
    };
    // Below min_samples a value is not evidence: show no number that could pass for health.
    if (!s.value("enough_data", false)) {
      no_data.push_back(s["name"]);
      t.AddRow({s["name"], "no data", "no data", Value(s, "limit"), "-", "-", "no data",
                s["trips_when"]});
      continue;
    }
    t.AddRow({s["name"], Value(s, "short"), Value(s, "long"), Value(s, "limit"),
              burn(s["burn_short"]), burn(s["burn_long"]),
              base::StrCat(std::llround(s["remaining"].get<double>() * 100), "%"),
              s["trips_when"]});
  }
  t.Print(std::cout);
  if (j["breach"].get<bool>()) {
    std::cout << "BREACH: " << j["reason"].get<std::string>() << "\n";
  } else if (no_data.size() == j["slis"].size()) {
    std::cout << "no data: nothing measured with enough samples yet (inconclusive, not healthy)\n";
  } else {
    std::cout << "within budget on the SLIs with data"
              << (no_data.empty() ? "" : base::StrCat("; no data for ", base::StrJoin(no_data, ", ")))
              << "\n";
  }
  if (absl::Now() - evaluated > absl::Seconds(30)) {
    std::cout << "stale: last evaluated " << Ago(evaluated)
              << " — is `cmo serve` (role all) running on this state?\n";
  }
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
