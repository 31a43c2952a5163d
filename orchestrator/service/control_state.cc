#include "orchestrator/service/control_state.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "base/status_macros.h"
#include "base/strings.h"
#include "shadow/state_layout.h"

namespace cmo::orchestrator {

absl::StatusOr<std::unique_ptr<ControlState>> OpenControlState(const std::string& state_dir,
                                                               bool create,
                                                               const base::Clock& clock,
                                                               absl::Duration max_metric_age) {
  struct stat st;
  if (::stat(state_dir.c_str(), &st) != 0) {
    if (!create) {
      return absl::InvalidArgumentError(base::StrCat(
          "state dir ", state_dir, " does not exist; check --state-dir (or CMO_STATE_DIR),",
          " or register an op with `cmo ops add` to create it"));
    }
    if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          base::StrCat("cannot create state dir ", state_dir, ": ", std::strerror(errno)));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        base::StrCat("state dir ", state_dir, " is not a directory; check --state-dir"));
  }
  auto state = std::make_unique<ControlState>();
  CMO_ASSIGN_OR_RETURN(state->flags,
                       flags::FlagStore::Open(shadow::ControlDbPath(state_dir), clock));
  CMO_ASSIGN_OR_RETURN(state->plans, migrations::PlanStore::Open(state->flags->db()));
  state->metrics =
      std::make_unique<migrations::StoredMetrics>(*state->plans, clock, max_metric_age);
  state->executor = std::make_unique<migrations::PlanExecutor>(*state->flags, *state->plans,
                                                               *state->metrics, clock);
  return state;
}

}  // namespace cmo::orchestrator
