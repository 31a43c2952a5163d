#include <iostream>

#include "orchestrator/cli/commands.h"

namespace cmo::orchestrator {

int RunCli(int argc, char** argv) {
  CLI::App app{
      "cmo — zero-downtime consistency migration orchestrator.\n"
      "Moves operations off a strongly consistent leader onto selective consistency, one\n"
      "stage at a time: strong -> dual_write -> shadow -> ramp -> eventual.\n"
      "Exit codes: 0 ok, 1 operation failed, 2 invalid input, 3 control service unreachable.",
      "cmo"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand: `cmo ops list --output json`

  GlobalOptions global;
  app.add_option("--state-dir", global.state_dir, "State directory (default ./cmo-state)")
      ->envname("CMO_STATE_DIR");
  app.add_option("--output", global.output, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}));

  int exit_code = kExitOk;
  SetupOpsCommands(app, global, exit_code);
  SetupChangeCommands(app, global, exit_code);
  SetupInspectCommands(app, global, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints its message; our contract says bad input exits 2.
    app.exit(e);
    return kExitInvalidInput;
  }
  return exit_code;
}

}  // namespace cmo::orchestrator
