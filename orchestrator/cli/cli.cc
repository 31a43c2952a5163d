#include <iostream>

#include "base/build_info.h"
#include "base/strings.h"
#include "base/utf8.h"
#include "orchestrator/cli/commands.h"

namespace cmo::orchestrator {
namespace {

// The deepest subcommand that was given on the command line.
const CLI::App* ParsedLeaf(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) return ParsedLeaf(*sub);
  return &app;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{
      "cmo — zero-downtime consistency migration orchestrator.\n"
      "Moves operations off a strongly consistent leader onto selective consistency, one\n"
      "stage at a time: strong -> dual_write -> shadow -> ramp -> eventual.\n"
      "Exit codes: 0 ok, 1 operation failed, 2 invalid input, 3 control service unreachable.",
      "cmo"};
  app.require_subcommand(1);
  app.set_version_flag("--version", base::StrCat("cmo ", base::BuildVersion(), " (revision ",
                                                 base::BuildRevision(), ")"));
  app.fallthrough();  // global options may follow the subcommand: `cmo ops list --output json`

  GlobalOptions global;
  bool check_args = false;
  CLI::Option* state_dir =
      app.add_option("--state-dir", global.state_dir, "State directory (default ./cmo-state)")
          ->envname("CMO_STATE_DIR");
  app.add_option("--server", global.server,
                 "Talk to `cmo serve` at this address (host:port or http://host:port) instead of "
                 "the state dir")
      ->envname("CMO_SERVER");
  app.add_option("--token-file", global.token_file,
                 "Bearer token file for mutating calls with --server (default: $CMO_TOKEN, else "
                 "STATE_DIR/api-token)");
  app.add_option("--tls-ca-file", global.tls_ca_file,
                 "PEM certificates to trust for an https:// --server (default: the system's)")
      ->envname("CMO_TLS_CA_FILE");
  app.add_option("--output", global.output, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}));
  // Hidden (no group): parse the command line and exit 0 without running anything. Used by
  // the test that keeps the commands quoted in runbooks/ valid.
  app.add_flag("--check-args", check_args)->group("");

  CommandRegistry registry;
  SetupOpsCommands(app, global, registry);
  SetupChangeCommands(app, global, registry);
  SetupInspectCommands(app, global, registry);
  SetupPlanCommands(app, global, registry);
  SetupBreakerCommands(app, global, registry);
  SetupReconcileCommands(app, global, registry);
  SetupWatermarkCommands(app, global, registry);
  SetupSettingsCommands(app, global, registry);
  SetupTokenCommands(app, global, registry);
  SetupOverrideCommands(app, global, registry);
  SetupTierCommands(app, global, registry);
  SetupServeCommand(app, global, registry);
  SetupBenchCommands(app, global, registry);
  SetupDemoCommand(app, global, registry);

  // Arguments end up in the audit log and in JSON; text that is not UTF-8 would be stored and
  // then break every reader, so it is refused here, before anything runs.
  // Known before parsing, so that even a command line CLI11 refuses gets its JSON error.
  bool json_errors = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    json_errors = json_errors || arg == "--output=json" ||
                  (arg == "--output" && i + 1 < argc && std::string_view(argv[i + 1]) == "json");
  }
  SetJsonErrors(json_errors);
  for (int i = 1; i < argc; ++i) {
    if (!base::IsValidUtf8(argv[i])) {
      return ReportError(absl::InvalidArgumentError(base::StrCat(
          "argument ", i, " (\"", base::SanitizeUtf8(argv[i]),
          "\") is not valid UTF-8; check the terminal's encoding (e.g. LANG=C.UTF-8)")));
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints its message; our contract says bad input exits 2.
    app.exit(e);
    if (json_errors) PrintJson(CliErrorJson(absl::InvalidArgumentError(e.what())));
    return kExitInvalidInput;
  }
  global.state_dir_given = state_dir->count() > 0;
  const std::function<int()>* run = registry.Find(ParsedLeaf(app));
  if (run == nullptr) {
    return ReportError(absl::InvalidArgumentError("incomplete command; see `cmo --help`"));
  }
  return check_args ? kExitOk : (*run)();
}

}  // namespace cmo::orchestrator
