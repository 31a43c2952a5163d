#include "orchestrator/cli/cli_context.h"

#include <cstdlib>
#include <iostream>

#include "base/clock.h"
#include "base/strings.h"

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

int ReportError(const absl::Status& status) {
  std::cerr << "cmo: error: " << status.message() << std::endl;
  return ExitCodeFor(status);
}

void PrintJson(const nlohmann::json& value) { std::cout << value.dump(2) << std::endl; }

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

}  // namespace cmo::orchestrator
