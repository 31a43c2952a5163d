#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "base/strings.h"
#include "base/units.h"
#include "migrations/plan_parser.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"

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
  return {{"file", file}, {"valid", true}, {"plan", plan.name}, {"phases", phases}};
}

struct ValidateOptions {
  std::vector<std::string> files;
};

int RunValidate(const ValidateOptions& o, const GlobalOptions& global) {
  int exit_code = kExitOk;
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& file : o.files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      exit_code = kExitInvalidInput;
      std::cerr << file << ": cannot read the plan file; check the path\n";
      results.push_back({{"file", file}, {"valid", false}, {"errors", {"cannot read"}}});
      continue;
    }
    std::stringstream text;
    text << in.rdbuf();
    migrations::ParseResult r = migrations::ParsePlan(text.str());
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

}  // namespace

void SetupPlanCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  CLI::App* plan = app.add_subcommand("plan", "Validate, apply and follow migration plans");
  plan->require_subcommand(1);

  auto v = std::make_shared<ValidateOptions>();
  CLI::App* validate = plan->add_subcommand(
      "validate", "Check plan files; print every error as FILE:LINE:COL (exit 2) or a summary");
  validate->add_option("files", v->files, "Plan files (YAML)")->required();
  registry.On(validate, [v, &global] { return RunValidate(*v, global); });
}

}  // namespace cmo::orchestrator
