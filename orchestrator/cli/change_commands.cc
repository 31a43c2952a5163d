#include <cmath>
#include <iostream>
#include <memory>
#include <optional>

#include "base/strings.h"
#include "base/units.h"
#include "flags/flag_json.h"
#include "orchestrator/cli/commands.h"

namespace cmo::orchestrator {
namespace {

std::string Describe(const flags::Flag& f) {
  return base::StrCat(flags::StageName(f.stage), " (eventual share ",
                      base::FormatBp(flags::EffectiveEventualBp(f)), ")");
}

// Renders the answer of POST /v1/ops/{op}/advance|ramp|rollback.
int PrintChange(const nlohmann::json& c, const GlobalOptions& global) {
  if (global.json()) {
    PrintJson(c);
    return kExitOk;
  }
  if (c.value("plan_managed", false)) {
    std::cout << (c.value("dry_run", false) ? "dry run: " : "") << c.value("op", "") << ": "
              << c.value("result", "") << "\n";
    return kExitOk;
  }
  auto before = flags::FlagFromJson(c["before"]);
  auto after = flags::FlagFromJson(c["after"]);
  if (!before.ok()) return ReportError(before.status());
  if (!after.ok()) return ReportError(after.status());
  const bool dry_run = c.value("dry_run", false);
  if (!c.value(dry_run ? "would_change" : "changed", false)) {
    std::cout << after->op << ": unchanged, already " << Describe(*after) << "\n";
    return kExitOk;
  }
  if (dry_run) std::cout << "dry run: nothing was changed\n";
  std::cout << after->op << ": " << Describe(*before) << " -> " << Describe(*after);
  if (!dry_run) std::cout << ", revision " << c.value("revision", int64_t{0});
  std::cout << "\n";
  if (c.value("beyond_step_limit", false)) {
    std::cout << "  beyond the step limit (" << c.value("step_limit_percent", 0.0) << "%): "
              << (c.value("needs_confirm", false) ? "the real call needs --confirm"
                                                  : "confirmed, audited")
              << "\n";
  }
  // The API says how much of the bucket space switches path and which way.
  const std::string direction = c.value("direction", "none");
  if (direction == "none") {
    std::cout << "  no subject changes path\n";
    return kExitOk;
  }
  const bool to_eventual = direction == "to_eventual";
  std::cout << "  " << (dry_run ? "would move " : "moved ")
            << base::FormatBp(
                   static_cast<int32_t>(std::lround(c.value("moving_percent", 0.0) * 100)))
            << " of subjects (bucket space) "
            << (to_eventual ? "strong -> eventual" : "eventual -> strong");
  if (!to_eventual) std::cout << ", most recently added first";
  std::cout << "\n";
  return kExitOk;
}

struct ChangeOptions {
  std::string op;
  std::string reason;
  bool dry_run = false;
  bool confirm = false;
  std::string to;      // ramp/advance: percent; rollback: stage
  std::string sample;  // advance into shadow: sample percent
};

CLI::App* AddChangeCommand(CLI::App& app, std::string_view name, std::string_view help,
                           ChangeOptions& o) {
  CLI::App* cmd = app.add_subcommand(std::string(name), std::string(help));
  cmd->add_option("op", o.op, "Op name")->required();
  cmd->add_option("--reason", o.reason, "Why, for the audit log")->required();
  cmd->add_flag("--dry-run", o.dry_run,
                "Show what would change (and how many subjects would "
                "switch path) without changing anything");
  cmd->add_flag("--confirm", o.confirm,
                "Allow a move beyond the step limit (`cmo settings`: max_step; default the "
                "next of 1/5/10/25/50/100%); audited");
  return cmd;
}

int RunChange(const std::string& verb, const ChangeOptions& o, nlohmann::json body,
              const GlobalOptions& global) {
  body["reason"] = o.reason;
  body["dry_run"] = o.dry_run;
  body["confirm"] = o.confirm;
  auto out = CallApi(global, {"POST", base::StrCat("/v1/ops/", o.op, "/", verb), {}, body});
  if (!out.ok()) return ReportError(out.status());
  return PrintChange(*out, global);
}

// Percent options go as given ("10", "10%", "0.5%"); the API parses them.
nlohmann::json OptionalField(const std::string& text) {
  return text.empty() ? nlohmann::json() : nlohmann::json(text);
}

int RunAdvance(const ChangeOptions& o, const GlobalOptions& global) {
  return RunChange("advance", o, {{"to", OptionalField(o.to)}, {"sample", OptionalField(o.sample)}},
                   global);
}

int RunRamp(const ChangeOptions& o, const GlobalOptions& global) {
  return RunChange("ramp", o, {{"to", o.to}}, global);
}

int RunRollback(const ChangeOptions& o, const GlobalOptions& global) {
  return RunChange("rollback", o, {{"to", OptionalField(o.to)}}, global);
}

}  // namespace

void SetupChangeCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto adv = std::make_shared<ChangeOptions>();
  CLI::App* advance = AddChangeCommand(
      app, "advance",
      "Move an op to its next stage: strong -> dual_write -> shadow -> ramp -> eventual; from a "
      "partial ramp, to the next standard percent (1/5/10/25/50/100%), never straight to 100%", *adv);
  advance->add_option("--to", adv->to, "When entering ramp: the starting percent (default 1%)");
  advance->add_option("--sample", adv->sample,
                      "When entering shadow: share of reads to compare (default 1%)");
  registry.On(advance, [adv, &global] { return RunAdvance(*adv, global); });

  auto rmp = std::make_shared<ChangeOptions>();
  CLI::App* ramp = AddChangeCommand(
      app, "ramp", "Set the share of subjects on the eventual path (from shadow or ramp)", *rmp);
  ramp->add_option("--to", rmp->to, "Percent: 10, 10% or 0.5%")->required();
  registry.On(ramp, [rmp, &global] { return RunRamp(*rmp, global); });

  auto rb = std::make_shared<ChangeOptions>();
  CLI::App* rollback =
      AddChangeCommand(app, "rollback",
                       "Move an op back to an earlier stage (default: shadow from ramp/eventual, "
                       "else the stage before)",
                       *rb);
  rollback->add_option("--to", rb->to, "Stage: strong, dual_write, shadow or ramp");
  registry.On(rollback, [rb, &global] { return RunRollback(*rb, global); });
}

}  // namespace cmo::orchestrator
