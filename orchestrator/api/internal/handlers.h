// The handlers behind LocalApi, one group per resource file. Each takes the open control state
// and the call, and returns the response body; none prints or exits.
#ifndef CMO_ORCHESTRATOR_API_INTERNAL_HANDLERS_H_
#define CMO_ORCHESTRATOR_API_INTERNAL_HANDLERS_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "flags/flag_store.h"
#include "flags/snapshot.h"
#include "orchestrator/api/control_api.h"
#include "orchestrator/service/control_state.h"

namespace cmo::orchestrator::api_internal {

struct Context {
  ControlState& state;
  const std::string& state_dir;
  const base::Clock& clock;
  const ApiCall& call;
  // The audit context for a mutating call: actor from the call, reason from the body.
  absl::StatusOr<flags::ChangeContext> Audit(std::string action, bool dry_run = false) const;
};

// Typed access to body fields and query parameters; a wrong type is kInvalidArgument naming
// the field.
absl::StatusOr<std::string> BodyString(const ApiCall& call, const char* field, bool required,
                                       std::string fallback = "");
absl::StatusOr<bool> BodyBool(const ApiCall& call, const char* field);
absl::StatusOr<int64_t> BodyInt(const ApiCall& call, const char* field, int64_t fallback);
std::string Query(const ApiCall& call, const char* name, std::string fallback = "");

// ops: GET /v1/ops, POST /v1/ops, GET /v1/ops/{op}, POST /v1/ops/{op}/advance|ramp|rollback,
// GET /v1/ops/{op}/decide?subject=
// The checks of the calls that may create the state dir, run before it is opened, so bad
// input never leaves an empty state dir behind.
absl::StatusOr<flags::Flag> ParseNewOp(const ApiCall& call);
absl::Status ValidatePlanCall(const ApiCall& call);
absl::StatusOr<nlohmann::json> ListOps(const Context& c);
absl::StatusOr<nlohmann::json> AddOp(const Context& c);
absl::StatusOr<nlohmann::json> GetOp(const Context& c, const std::string& op);
absl::StatusOr<nlohmann::json> Advance(const Context& c, const std::string& op);
absl::StatusOr<nlohmann::json> Ramp(const Context& c, const std::string& op);
absl::StatusOr<nlohmann::json> Rollback(const Context& c, const std::string& op);
absl::StatusOr<nlohmann::json> Decide(const Context& c, const std::string& op);
// Says in words why the subject got its path: the question support asks.
std::string WhyPath(const flags::Flag& f, const flags::Decision& d);

// plans: GET /v1/plans (status), POST /v1/plans (apply), POST /v1/ops/{op|*}/pause|resume
absl::StatusOr<nlohmann::json> PlanStatus(const Context& c);
absl::StatusOr<nlohmann::json> ApplyPlan(const Context& c);
absl::StatusOr<nlohmann::json> SetPaused(const Context& c, const std::string& op, bool paused);

// GET /v1/tiers: the plans' subject tiers and their published heaviest writers.
absl::StatusOr<nlohmann::json> ListTiers(const Context& c);

// GET /v1/overrides, POST /v1/overrides {subject, op|domain, ttl, reason},
// POST /v1/overrides/{id}/remove {reason}: support overrides (flags/override.h)
absl::StatusOr<nlohmann::json> ListOverrides(const Context& c);
absl::StatusOr<nlohmann::json> AddOverride(const Context& c);
absl::StatusOr<nlohmann::json> RemoveOverride(const Context& c, const std::string& id);

// GET /v1/settings, POST /v1/settings {name, value, reason}
absl::StatusOr<nlohmann::json> Settings(const Context& c);
absl::StatusOr<nlohmann::json> SetSetting(const Context& c);
// The configured max_step; nullopt: the standard percents.
absl::StatusOr<std::optional<int32_t>> MaxStepBp(const Context& c);

// GET /v1/audit?op=&limit=
absl::StatusOr<nlohmann::json> Audit(const Context& c);

// GET /v1/breakers, POST /v1/breakers/{op}/reset, GET /v1/ops/{op}/budget
absl::StatusOr<nlohmann::json> Breakers(const Context& c);
absl::StatusOr<nlohmann::json> ResetBreaker(const Context& c, const std::string& op);
absl::StatusOr<nlohmann::json> Budget(const Context& c, const std::string& op);

// GET /v1/divergence?user=&op=&since=, POST /v1/reconcile, GET /v1/reconcile
absl::StatusOr<nlohmann::json> Divergence(const Context& c);
absl::StatusOr<nlohmann::json> Reconcile(const Context& c);
absl::StatusOr<nlohmann::json> ReconcileJobs(const Context& c);

// POST /v1/reconcile/{domain}/{region}/pause|resume|throttle, POST /v1/reconcile/{domain}/gc
absl::StatusOr<nlohmann::json> SetJobState(const Context& c, const std::string& domain,
                                           const std::string& region, const std::string& state);
absl::StatusOr<nlohmann::json> ThrottleJob(const Context& c, const std::string& domain,
                                           const std::string& region);
absl::StatusOr<nlohmann::json> CollectTombstones(const Context& c, const std::string& domain);

// GET /v1/tokens, POST /v1/tokens {name, role, reason}, POST /v1/tokens/{name}/revoke {reason}
absl::StatusOr<nlohmann::json> ListTokens(const Context& c);
absl::StatusOr<nlohmann::json> CreateToken(const Context& c);
absl::StatusOr<nlohmann::json> RevokeToken(const Context& c, const std::string& name);

}  // namespace cmo::orchestrator::api_internal

#endif  // CMO_ORCHESTRATOR_API_INTERNAL_HANDLERS_H_
