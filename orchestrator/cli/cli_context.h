// What every `cmo` subcommand shares: global options, opening the state dir, the actor recorded
// in the audit log, error printing and the mapping of Status codes to exit codes.
#ifndef CMO_ORCHESTRATOR_CLI_CLI_CONTEXT_H_
#define CMO_ORCHESTRATOR_CLI_CLI_CONTEXT_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "orchestrator/api/control_api.h"
#include "orchestrator/service/control_state.h"

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
  std::string server;            // --server / CMO_SERVER: talk to `cmo serve` over HTTP
  std::string token_file;        // --token-file; else CMO_TOKEN; else the state dir's api-token
  std::string tls_ca_file;       // --tls-ca-file / CMO_TLS_CA_FILE: CA for https:// servers
  bool json() const { return output == "json"; }
};

// invalid argument, not found, already exists, out of range -> 2 (fix the input);
// unavailable -> 3 (retry); anything else -> 1.
int ExitCodeFor(const absl::Status& status);

// Prints "cmo: error: MESSAGE" on stderr and returns the exit code for `status`.
int ReportError(const absl::Status& status);
// With `--output json`, ReportError also prints the error on stdout as
// {"error": {"code": "INVALID_ARGUMENT", "message": "...", "exit_code": 2}} (the HTTP API's
// error body plus the exit code), so a script never has to parse the human line on stderr.
void SetJsonErrors(bool on);
nlohmann::json CliErrorJson(const absl::Status& status);

// Prints `value` on stdout, indented, with a trailing newline.
void PrintJson(const nlohmann::json& value);

// The audit actor: $CMO_ACTOR, else "cli:$USER", else "cli:unknown".
std::string Actor();

// Opens the state dir's control state (flags, plans, executor) on the system clock.
absl::StatusOr<std::unique_ptr<ControlState>> OpenState(const GlobalOptions& global, bool create);

// The control API every command goes through: HTTP to --server when set, else in-process on
// the state dir. Commands build one ApiCall and render its JSON; the logic is behind the API.
absl::StatusOr<std::unique_ptr<ControlApi>> OpenApi(const GlobalOptions& global);

// Runs `call` (actor filled in) through OpenApi.
absl::StatusOr<nlohmann::json> CallApi(const GlobalOptions& global, ApiCall call);

// For commands that only work on a local state dir: an error naming the command when --server
// is set, OK otherwise.
absl::Status RequireLocal(const GlobalOptions& global, std::string_view command);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_CLI_CLI_CONTEXT_H_
