// What every `cmo` subcommand shares: global options, opening the state dir, the actor recorded
// in the audit log, error printing and the mapping of Status codes to exit codes.
#ifndef CMO_ORCHESTRATOR_CLI_CLI_CONTEXT_H_
#define CMO_ORCHESTRATOR_CLI_CLI_CONTEXT_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "orchestrator/control_state.h"

namespace cmo::orchestrator {

// Exit codes of `cmo` (DESIGN.md): a contract with operators' scripts.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitInvalidInput = 2;
inline constexpr int kExitUnreachable = 3;

struct GlobalOptions {
  std::string state_dir = "cmo-state";
  std::string output = "table";  // "table" or "json"
  bool state_dir_given = false;  // --state-dir or CMO_STATE_DIR (else a config file may set it)
  bool json() const { return output == "json"; }
};

// invalid argument, not found, already exists, out of range -> 2 (fix the input);
// unavailable -> 3 (retry); anything else -> 1.
int ExitCodeFor(const absl::Status& status);

// Prints "cmo: error: MESSAGE" on stderr and returns the exit code for `status`.
int ReportError(const absl::Status& status);

// Prints `value` on stdout, indented, with a trailing newline.
void PrintJson(const nlohmann::json& value);

// The audit actor: $CMO_ACTOR, else "cli:$USER", else "cli:unknown".
std::string Actor();

// Opens the state dir's control state (flags, plans, executor) on the system clock.
absl::StatusOr<std::unique_ptr<ControlState>> OpenState(const GlobalOptions& global, bool create);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_CLI_CLI_CONTEXT_H_
