#include "orchestrator/cli/cli_context.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "base/clock.h"
#include "base/json.h"
#include "base/strings.h"
#include "orchestrator/api/api_server.h"
#include "orchestrator/api/http_api.h"
#include "orchestrator/api/local_api.h"

namespace cmo::orchestrator {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalidInput;
    case absl::StatusCode::kUnavailable:
      return kExitUnreachable;
    default:
      return kExitFailed;
  }
}

namespace {
// Set once, before any command runs (RunCli): whether errors are also written as JSON.
bool json_errors = false;
}  // namespace

void SetJsonErrors(bool on) { json_errors = on; }

nlohmann::json CliErrorJson(const absl::Status& status) {
  nlohmann::json body = ErrorBody(status);
  body["error"]["exit_code"] = ExitCodeFor(status);
  return body;
}

int ReportError(const absl::Status& status) {
  // With --output json a script reads stdout: the error is there too, in the API's shape.
  if (json_errors) PrintJson(CliErrorJson(status));
  // A multi-line message (a plan's diagnostics, one per line) keeps its lines as they are and
  // ends with the verdict.
  std::string_view message(status.message().data(), status.message().size());
  if (const size_t nl = message.rfind('\n'); nl != std::string_view::npos) {
    std::cerr << message.substr(0, nl + 1);
    message = message.substr(nl + 1);
  }
  std::cerr << "cmo: error: " << message << std::endl;
  return ExitCodeFor(status);
}

void PrintJson(const nlohmann::json& value) { std::cout << base::JsonText(value, 2) << std::endl; }

std::string Actor() {
  if (const char* actor = std::getenv("CMO_ACTOR"); actor != nullptr && *actor != '\0') {
    return actor;
  }
  const char* user = std::getenv("USER");
  return base::StrCat("cli:", user != nullptr && *user != '\0' ? user : "unknown");
}

absl::StatusOr<std::unique_ptr<ControlState>> OpenState(const GlobalOptions& global, bool create) {
  return OpenControlState(global.state_dir, create, base::SystemClock());
}

namespace {

absl::StatusOr<std::string> Token(const GlobalOptions& global) {
  std::string path = global.token_file;
  if (path.empty()) {
    if (const char* t = std::getenv("CMO_TOKEN"); t != nullptr && *t != '\0') return t;
    path = TokenPath(global.state_dir);              // same host as the server: its own state dir
    if (!std::ifstream(path)) return std::string();  // open reads need none; others get 401
  }
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token) || token.empty()) {
    return absl::InvalidArgumentError(
        base::StrCat("--token-file ", path,
                     ": cannot read a token from it; copy the server's "
                     "state-dir/api-token (keep it 0600)"));
  }
  return token;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlApi>> OpenApi(const GlobalOptions& global) {
  if (global.server.empty()) {
    // Commands validate their input before calling, so a state dir is only created by the
    // calls that register something (POST /v1/ops, POST /v1/plans).
    return std::unique_ptr<ControlApi>(
        std::make_unique<LocalApi>(global.state_dir, base::SystemClock()));
  }
  auto token = Token(global);
  if (!token.ok()) return token.status();
  auto api = HttpApi::Create(global.server, *token, absl::Seconds(30), global.tls_ca_file);
  if (!api.ok()) return api.status();
  return std::unique_ptr<ControlApi>(*std::move(api));
}

absl::StatusOr<nlohmann::json> CallApi(const GlobalOptions& global, ApiCall call) {
  auto api = OpenApi(global);
  if (!api.ok()) return api.status();
  if (call.actor.empty()) call.actor = Actor();
  return (*api)->Call(call);
}

absl::Status RequireLocal(const GlobalOptions& global, std::string_view command) {
  if (global.server.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      base::StrCat("`cmo ", command,
                   "` works on a local state dir only; run it on the host of "
                   "`cmo serve` without --server (unset CMO_SERVER)"));
}

}  // namespace cmo::orchestrator
