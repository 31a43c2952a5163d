// Registration of `cmo` subcommands. Each file holds, per subcommand, an options struct, a
// setup function that declares its CLI, and a run function that returns the exit code.
#ifndef CMO_ORCHESTRATOR_CLI_COMMANDS_H_
#define CMO_ORCHESTRATOR_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <map>

#include "orchestrator/cli/cli_context.h"

namespace cmo::orchestrator {

// Maps each leaf subcommand to the function that runs it once parsing has succeeded, so that
// parsing can be checked without running anything (`--check-args`).
class CommandRegistry {
 public:
  void On(CLI::App* command, std::function<int()> run) { runs_[command] = std::move(run); }
  // The run function of the parsed leaf subcommand, or nullptr.
  const std::function<int()>* Find(const CLI::App* command) const {
    auto it = runs_.find(command);
    return it == runs_.end() ? nullptr : &it->second;
  }

 private:
  std::map<const CLI::App*, std::function<int()>> runs_;
};

// `ops list`, `ops add`.
void SetupOpsCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);
// `advance`, `ramp`, `rollback`.
void SetupChangeCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);
// `decide`, `history`.
void SetupInspectCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);

// `plan validate|apply|status|run`, `pause`, `resume`.
void SetupPlanCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);

// `breakers`, `breaker reset`, `budget`.
void SetupBreakerCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);

// `reconcile run`, `report divergence`.
void SetupReconcileCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);

// `watermarks`, `watermarks clamp`.
void SetupWatermarkCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);

// `token create|list|revoke`.
void SetupTokenCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);
void SetupOverrideCommands(CLI::App& app, const GlobalOptions& global,
                           CommandRegistry& registry);
// `tiers`.
void SetupTierCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);

// `serve`.
void SetupSettingsCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);
void SetupServeCommand(CLI::App& app, GlobalOptions& global, CommandRegistry& registry);

// `bench pipeline`.
void SetupBenchCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);

// `demo`.
void SetupDemoCommand(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);

// Runs `cmo` with these arguments; returns the process exit code.
int RunCli(int argc, char** argv);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_CLI_COMMANDS_H_
