// Registration of `cmo` subcommands. Each file holds, per subcommand, an options struct, a
// setup function that declares its CLI, and a run function that returns the exit code.
#ifndef CMO_ORCHESTRATOR_CLI_COMMANDS_H_
#define CMO_ORCHESTRATOR_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>

#include "orchestrator/cli/cli_context.h"

namespace cmo::orchestrator {

// `ops list`, `ops add`.
void SetupOpsCommands(CLI::App& app, const GlobalOptions& global, int& exit_code);
// `advance`, `ramp`, `rollback`.
void SetupChangeCommands(CLI::App& app, const GlobalOptions& global, int& exit_code);
// `decide`, `history`.
void SetupInspectCommands(CLI::App& app, const GlobalOptions& global, int& exit_code);

// Runs `cmo` with these arguments; returns the process exit code.
int RunCli(int argc, char** argv);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_CLI_COMMANDS_H_
