// `cmo tiers`: the plans' subject tiers (flags/tier.h) and who is in them.
#include <iostream>
#include <string>
#include <vector>

#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"

namespace cmo::orchestrator {
namespace {

int RunTiers(const GlobalOptions& global) {
  auto out = CallApi(global, {"GET", "/v1/tiers", {}, nullptr});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  Table t({"plan", "tier", "ops", "model", "join_at", "writes", "members"});
  for (const nlohmann::json& tier : *out) {
    std::vector<std::string> members;
    if (!tier["subjects"].empty())
      members.push_back(base::StrCat(tier["subjects"].size(), " listed"));
    for (const nlohmann::json& w : tier["when"]) members.push_back(w.get<std::string>());
    if (tier["top_k"].get<int>() > 0) {
      members.push_back(
          base::StrCat("top ", tier["top_k"].get<int>(), " writers of ",
                       base::HumanDuration(absl::Milliseconds(tier["window_ms"].get<int64_t>())),
                       " (now ", tier["heavy"].size(), ")"));
    }
    std::vector<std::string> ops;
    for (const nlohmann::json& o : tier["ops"]) ops.push_back(o.get<std::string>());
    t.AddRow({tier["plan"].get<std::string>(), tier["name"].get<std::string>(),
              base::StrJoin(ops, ","), tier["target"].get<std::string>(),
              tier["join_at"].get<std::string>(),
              tier.value("priority", false) ? "priority channel" : "bulk",
              base::StrJoin(members, "; ")});
  }
  t.Print(std::cout);
  return kExitOk;
}

}  // namespace

void SetupTierCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  CLI::App* tiers = app.add_subcommand(
      "tiers",
      "The plans' subject tiers: who is in them (listed, by rule, heaviest writers) and what "
      "they get; `cmo decide OP SUBJECT --context k=v` shows one subject's");
  registry.On(tiers, [&global] { return RunTiers(global); });
}

}  // namespace cmo::orchestrator
