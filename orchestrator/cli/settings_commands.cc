// `cmo settings` and `cmo settings set NAME VALUE`: the control plane's operator settings.
#include <iostream>
#include <memory>

#include "orchestrator/cli/commands.h"

namespace cmo::orchestrator {
namespace {

struct SetOptions {
  std::string name;
  std::string value;
  std::string reason;
};

int RunShow(const GlobalOptions& global) {
  auto out = CallApi(global, {"GET", "/v1/settings", {}, nullptr});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  for (const auto& [name, value] : out->items()) {
    std::cout << name << " = " << value.get<std::string>() << "\n";
  }
  return kExitOk;
}

int RunSet(const SetOptions& o, const GlobalOptions& global) {
  auto out = CallApi(global, {"POST",
                              "/v1/settings",
                              {},
                              {{"name", o.name}, {"value", o.value}, {"reason", o.reason}}});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  std::cout << o.name << " = " << o.value
            << ((*out)["changed"].get<bool>() ? " (audited)" : " (unchanged)") << "\n";
  return kExitOk;
}

}  // namespace

void SetupSettingsCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  CLI::App* settings = app.add_subcommand(
      "settings",
      "Show the control plane's operator settings; `set` changes one (audited). max_step: the "
      "largest eventual share one advance/ramp may add without --confirm: `standard` (default: "
      "the next of 1/5/10/25/50/100%) or a percent such as 10%");
  registry.On(settings, [&global] { return RunShow(global); });
  auto o = std::make_shared<SetOptions>();
  CLI::App* set = settings->add_subcommand("set", "Change a setting (audited)");
  set->add_option("name", o->name, "Setting: max_step")->required();
  set->add_option("value", o->value, "max_step: `standard` or a percent such as 10%")->required();
  set->add_option("--reason", o->reason, "Why, for the audit log")->required();
  registry.On(set, [o, &global] { return RunSet(*o, global); });
}

}  // namespace cmo::orchestrator
