#include <iostream>
#include <memory>
#include <optional>

#include "base/strings.h"
#include "base/units.h"
#include "flags/flag_json.h"
#include "flags/transitions.h"
#include "orchestrator/cli/commands.h"

namespace cmo::orchestrator {
namespace {

// What a change does to routing: the share of the bucket space (hence of subjects) that
// switches path, and in which direction. Buckets are monotonic, so it is the difference.
struct Movement {
  int32_t moving_bp;
  std::string_view direction;  // "to_eventual", "to_strong" or "none"
};

Movement MovementOf(const flags::Flag& before, const flags::Flag& after) {
  const int32_t from = flags::EffectiveEventualBp(before);
  const int32_t to = flags::EffectiveEventualBp(after);
  if (to > from) return {to - from, "to_eventual"};
  if (to < from) return {from - to, "to_strong"};
  return {0, "none"};
}

std::string Describe(const flags::Flag& f) {
  return base::StrCat(flags::StageName(f.stage), " (eventual share ",
                      base::FormatBp(flags::EffectiveEventualBp(f)), ")");
}

void PrintChange(const flags::Change& c, const GlobalOptions& global) {
  const Movement m = MovementOf(*c.before, c.after);
  if (global.json()) {
    PrintJson({{"op", c.after.op},
               {"dry_run", c.dry_run},
               {"changed", c.changed},
               {"revision", c.revision},
               {"before", flags::FlagToJson(*c.before)},
               {"after", flags::FlagToJson(c.after)},
               {"moving_percent", flags::BpToPercent(m.moving_bp)},
               {"direction", m.direction}});
    return;
  }
  if (!c.changed) {
    std::cout << c.after.op << ": unchanged, already " << Describe(c.after) << "\n";
    return;
  }
  if (c.dry_run) std::cout << "dry run: nothing was changed\n";
  std::cout << c.after.op << ": " << Describe(*c.before) << " -> " << Describe(c.after);
  if (!c.dry_run) std::cout << ", revision " << c.revision;
  std::cout << "\n";
  if (m.moving_bp > 0) {
    std::cout << "  " << (c.dry_run ? "would move " : "moved ") << base::FormatBp(m.moving_bp)
              << " of subjects (bucket space) "
              << (m.direction == "to_eventual" ? "strong -> eventual" : "eventual -> strong");
    if (m.direction == "to_strong") std::cout << ", most recently added first";
    std::cout << "\n";
  } else {
    std::cout << "  no subject changes path\n";
  }
}

int RunChange(const std::string& op, const flags::ChangeContext& ctx,
              absl::FunctionRef<absl::Status(flags::Flag&)> edit, const GlobalOptions& global) {
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  flags::FlagStore* store = (*state)->flags.get();
  auto change = store->Update(op, ctx, edit);
  if (!change.ok()) return ReportError(change.status());
  PrintChange(*change, global);
  return kExitOk;
}

struct ChangeOptions {
  std::string op;
  std::string reason;
  bool dry_run = false;
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
  return cmd;
}

// Parses an optional percent option; an empty string means "not given".
absl::StatusOr<std::optional<int32_t>> OptionalPercent(const std::string& text,
                                                       std::string_view option) {
  if (text.empty()) return std::optional<int32_t>();
  auto bp = base::ParsePercentBp(text);
  if (!bp.ok())
    return absl::InvalidArgumentError(base::StrCat(option, ": ", bp.status().message()));
  return std::optional<int32_t>(*bp);
}

int RunAdvance(const ChangeOptions& o, const GlobalOptions& global) {
  flags::AdvanceOptions advance;
  auto to = OptionalPercent(o.to, "--to");
  if (!to.ok()) return ReportError(to.status());
  auto sample = OptionalPercent(o.sample, "--sample");
  if (!sample.ok()) return ReportError(sample.status());
  advance.ramp_to_bp = *to;
  advance.shadow_sample_bp = *sample;
  // An op driven by a plan advances by its plan: `advance` approves the step's manual gates.
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  auto managed = (*state)->executor->Manages(o.op);
  if (!managed.ok()) return ReportError(managed.status());
  if (*managed) {
    if (to->has_value() || sample->has_value()) {
      return ReportError(absl::InvalidArgumentError(
          base::StrCat("op ", o.op, " is driven by a plan, which sets its percentages; ",
                       "drop --to/--sample (or `cmo pause ", o.op, "` and move it by hand)")));
    }
    if (o.dry_run) {
      std::cout << "dry run: would approve the manual gates of " << o.op
                << "'s current plan step\n";
      return kExitOk;
    }
    auto msg = (*state)->executor->Approve(o.op, {Actor(), o.reason, "plan.approve", false});
    if (!msg.ok()) return ReportError(msg.status());
    if (global.json()) {
      PrintJson({{"op", o.op}, {"plan_managed", true}, {"result", *msg}});
    } else {
      std::cout << o.op << ": " << *msg << "\n";
    }
    return kExitOk;
  }
  state->reset();
  return RunChange(
      o.op, {Actor(), o.reason, "advance", o.dry_run},
      [&](flags::Flag& f) { return flags::Advance(f, advance); }, global);
}

int RunRamp(const ChangeOptions& o, const GlobalOptions& global) {
  auto bp = base::ParsePercentBp(o.to);
  if (!bp.ok()) {
    return ReportError(absl::InvalidArgumentError(base::StrCat("--to: ", bp.status().message())));
  }
  return RunChange(
      o.op, {Actor(), o.reason, "ramp", o.dry_run},
      [&](flags::Flag& f) { return flags::RampTo(f, *bp); }, global);
}

int RunRollback(const ChangeOptions& o, const GlobalOptions& global) {
  std::optional<flags::Stage> to;
  if (!o.to.empty()) {
    auto stage = flags::ParseStage(o.to);
    if (!stage.ok()) {
      return ReportError(
          absl::InvalidArgumentError(base::StrCat("--to: ", stage.status().message())));
    }
    to = *stage;
  }
  return RunChange(
      o.op, {Actor(), o.reason, "rollback", o.dry_run},
      [&](flags::Flag& f) { return flags::RollbackTo(f, to); }, global);
}

}  // namespace

void SetupChangeCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto adv = std::make_shared<ChangeOptions>();
  CLI::App* advance = AddChangeCommand(
      app, "advance",
      "Move an op to its next stage: strong -> dual_write -> shadow -> ramp -> eventual", *adv);
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
