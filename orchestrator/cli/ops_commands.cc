#include <iostream>
#include <memory>

#include "base/strings.h"
#include "base/units.h"
#include "flags/flag_json.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"

namespace cmo::orchestrator {
namespace {

int RunOpsList(const GlobalOptions& global) {
  auto state = OpenState(global, /*create=*/false);
  if (!state.ok()) return ReportError(state.status());
  flags::FlagStore* store = (*state)->flags.get();
  auto all = store->List();
  if (!all.ok()) return ReportError(all.status());
  if (global.json()) {
    nlohmann::json out = nlohmann::json::array();
    for (const flags::Flag& f : *all) out.push_back(flags::FlagToJson(f));
    PrintJson(out);
    return kExitOk;
  }
  Table table({"OP", "DOMAIN", "CLASS", "TARGET", "STAGE", "PERCENT", "SHADOW", "BREAKER", "REV"});
  for (const flags::Flag& f : *all) {
    table.AddRow({f.op, f.domain, std::string(flags::OpClassName(f.op_class)),
                  flags::TargetName(f.target), std::string(flags::StageName(f.stage)),
                  base::FormatBp(f.ramp_bp), base::FormatBp(f.shadow_bp),
                  std::string(flags::BreakerStateName(f.breaker)), base::StrCat(f.revision)});
  }
  table.Print(std::cout);
  if (all->empty()) std::cout << "(no ops registered; add one with `cmo ops add`)\n";
  return kExitOk;
}

struct OpsAddOptions {
  std::string op;
  std::string domain;
  std::string op_class = "standard";
  std::string target;
  std::string salt;
  std::string reason = "op registered";
};

int RunOpsAdd(const OpsAddOptions& o, const GlobalOptions& global) {
  flags::Flag flag;
  flag.op = o.op;
  flag.domain = o.domain;
  flag.salt = o.salt;
  auto op_class = flags::ParseOpClass(o.op_class);
  if (!op_class.ok()) return ReportError(op_class.status());
  flag.op_class = *op_class;
  auto target = flags::ParseTarget(o.target);
  if (!target.ok()) return ReportError(target.status());
  flag.target = *target;
  // Validate before touching the state dir, so bad input never creates one.
  if (absl::Status s = flags::ValidateFlag(flag); !s.ok()) return ReportError(s);
  auto state = OpenState(global, /*create=*/true);
  if (!state.ok()) return ReportError(state.status());
  flags::FlagStore* store = (*state)->flags.get();
  auto change = store->Add(flag, {Actor(), o.reason, "add", false});
  if (!change.ok()) return ReportError(change.status());
  if (global.json()) {
    PrintJson({{"op", change->after.op},
               {"revision", change->revision},
               {"after", flags::FlagToJson(change->after)}});
  } else {
    std::cout << "registered " << change->after.op << " (domain " << change->after.domain << ", "
              << flags::OpClassName(change->after.op_class) << ", target "
              << flags::TargetName(change->after.target) << ") at stage strong, revision "
              << change->revision << "\n";
  }
  return kExitOk;
}

}  // namespace

void SetupOpsCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  CLI::App* ops = app.add_subcommand("ops", "List and register operations");
  ops->require_subcommand(1);

  CLI::App* list = ops->add_subcommand("list", "List every op with its stage and ramp percent");
  registry.On(list, [&global] { return RunOpsList(global); });

  auto o = std::make_shared<OpsAddOptions>();
  CLI::App* add = ops->add_subcommand("add", "Register an op; it starts at stage strong");
  add->add_option("op", o->op, "Op name, e.g. post.like")->required();
  add->add_option("--domain", o->domain, "Data domain (keyspace) the op acts on, e.g. likes")
      ->required();
  add->add_option("--class", o->op_class, "critical (never leaves strong) or standard")
      ->check(CLI::IsMember({"critical", "standard"}));
  add->add_option("--target", o->target,
                  "Target model: strong, bounded_staleness(2s), read_your_writes, "
                  "monotonic_reads, causal or eventual")
      ->required();
  add->add_option("--salt", o->salt,
                  "Bucketing salt (default: the domain, so ops of one "
                  "domain move together)");
  add->add_option("--reason", o->reason, "Why, for the audit log");
  registry.On(add, [o, &global] { return RunOpsAdd(*o, global); });
}

}  // namespace cmo::orchestrator
