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
  auto out = CallApi(global, {"GET", "/v1/ops"});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  Table table({"OP", "DOMAIN", "CLASS", "TARGET", "STAGE", "PERCENT", "SHADOW", "BREAKER", "REV"});
  for (const nlohmann::json& j : *out) {
    auto f = flags::FlagFromJson(j);
    if (!f.ok()) return ReportError(f.status());
    table.AddRow({f->op, f->domain, std::string(flags::OpClassName(f->op_class)),
                  flags::TargetName(f->target), std::string(flags::StageName(f->stage)),
                  base::FormatBp(f->ramp_bp), base::FormatBp(f->shadow_bp),
                  std::string(flags::BreakerStateName(f->breaker)), base::StrCat(f->revision)});
  }
  table.Print(std::cout);
  if (out->empty()) std::cout << "(no ops registered; add one with `cmo ops add`)\n";
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
  auto out = CallApi(global, {"POST",
                              "/v1/ops",
                              {},
                              {{"op", o.op},
                               {"domain", o.domain},
                               {"class", o.op_class},
                               {"target", o.target},
                               {"salt", o.salt},
                               {"reason", o.reason}}});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  auto after = flags::FlagFromJson((*out)["after"]);
  if (!after.ok()) return ReportError(after.status());
  std::cout << "registered " << after->op << " (domain " << after->domain << ", "
            << flags::OpClassName(after->op_class) << ", target "
            << flags::TargetName(after->target) << ") at stage strong, revision "
            << (*out)["revision"].get<int64_t>() << "\n";
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
                  "monotonic_reads, causal, consistent_prefix or eventual")
      ->required();
  add->add_option("--salt", o->salt,
                  "Bucketing salt (default: the domain, so ops of one "
                  "domain move together)");
  add->add_option("--reason", o->reason, "Why, for the audit log");
  registry.On(add, [o, &global] { return RunOpsAdd(*o, global); });
}

}  // namespace cmo::orchestrator
