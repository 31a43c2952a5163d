#include "orchestrator/service/control_state.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "base/pg_sql.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "orchestrator/service/leader_lease.h"
#include "shadow/deployment_stores.h"
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
  CMO_ASSIGN_OR_RETURN(shadow::StoreLocations where, shadow::ReadStoreLocations(state_dir));
  auto state = std::make_unique<ControlState>();
  CMO_ASSIGN_OR_RETURN(
      state->flags,
      flags::FlagStore::Open(
          where.control.empty() ? shadow::ControlDbPath(state_dir) : where.control, clock));
  if (auto* pg = dynamic_cast<base::PgSqlDb*>(&state->flags->db()); pg != nullptr) {
    pg->SetWriteGuard([](base::PgConnection& conn) {
      const LeaderLease* lease = ProcessLease();
      return CheckLease(conn, lease != nullptr ? lease->token() : std::nullopt);
    });
  }
  CMO_ASSIGN_OR_RETURN(state->plans, migrations::PlanStore::Open(state->flags->db()));
  state->metrics =
      std::make_unique<migrations::StoredMetrics>(*state->plans, clock, max_metric_age);
  state->executor = std::make_unique<migrations::PlanExecutor>(*state->flags, *state->plans,
                                                               *state->metrics, clock);
  return state;
}

}  // namespace cmo::orchestrator
