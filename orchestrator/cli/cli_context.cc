#include "orchestrator/cli/cli_context.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
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

std::string ControlDbPath(const GlobalOptions& global) {
  return base::StrCat(global.state_dir, "/control.db");
}

absl::StatusOr<std::unique_ptr<flags::FlagStore>> OpenFlagStore(const GlobalOptions& global,
                                                                bool create) {
  struct stat st;
  if (::stat(global.state_dir.c_str(), &st) != 0) {
    if (!create) {
      return absl::InvalidArgumentError(base::StrCat(
          "state dir ", global.state_dir, " does not exist; check --state-dir (or CMO_STATE_DIR),",
          " or register an op with `cmo ops add` to create it"));
    }
    if (::mkdir(global.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          base::StrCat("cannot create state dir ", global.state_dir, ": ", std::strerror(errno)));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        base::StrCat("state dir ", global.state_dir, " is not a directory; check --state-dir"));
  }
  return flags::FlagStore::Open(ControlDbPath(global), base::SystemClock());
}

}  // namespace cmo::orchestrator
