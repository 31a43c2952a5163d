#include "orchestrator/api/local_api.h"

#include <filesystem>
#include <vector>

#include "absl/strings/str_split.h"
#include "base/strings.h"
#include "orchestrator/api/internal/handlers.h"

namespace cmo::orchestrator {
namespace {

using Handler = absl::StatusOr<nlohmann::json>;

absl::Status NoRoute(const ApiCall& call) {
  return absl::NotFoundError(
      base::StrCat("no such API call: ", call.method, " ", call.path, "; see docs/API.md"));
}

}  // namespace

LocalApi::LocalApi(std::string state_dir, const base::Clock& clock, bool create_state_dir)
    : state_dir_(std::move(state_dir)), clock_(clock), create_state_dir_(create_state_dir) {}

LocalApi::~LocalApi() = default;

absl::StatusOr<ControlState*> LocalApi::State(bool create) {
  if (state_ == nullptr) {
    auto opened = OpenControlState(state_dir_, create && create_state_dir_, clock_);
    if (!opened.ok()) return opened.status();
    state_ = *std::move(opened);
  }
  return state_.get();
}

// Over HTTP each route needs a role: a new one must be listed in RequiredRole
// (internal/api_tokens.h) if it reads user-level data or changes anything.
absl::StatusOr<nlohmann::json> LocalApi::Call(const ApiCall& call) {
  std::vector<std::string> p = absl::StrSplit(call.path, '/', absl::SkipEmpty());
  if (p.size() < 2 || p[0] != "v1") return NoRoute(call);
  const bool get = call.method == "GET";
  const bool post = call.method == "POST";
  if (!get && !post) {
    return absl::InvalidArgumentError(
        base::StrCat("method ", call.method, " is not allowed; the API uses GET and POST"));
  }
  // Registering an op or applying a plan is how a state dir comes to exist.
  const bool creates = post && p.size() == 2 && (p[1] == "ops" || p[1] == "plans");
  // Checked before opening only when this call would create the state dir: bad input must
  // not leave an empty one behind (otherwise the handler's own checks suffice).
  if (creates && state_ == nullptr && !std::filesystem::exists(state_dir_)) {
    const absl::Status valid = p[1] == "ops" ? api_internal::ParseNewOp(call).status()
                                             : api_internal::ValidatePlanCall(call);
    if (!valid.ok()) return valid;
  }
  auto state = State(creates);
  if (!state.ok()) return state.status();
  const api_internal::Context c{**state, state_dir_, clock_, call};
  const std::string& res = p[1];
  if (p.size() == 2) {
    if (res == "ops") return get ? api_internal::ListOps(c) : api_internal::AddOp(c);
    if (res == "plans") return get ? api_internal::PlanStatus(c) : api_internal::ApplyPlan(c);
    if (res == "audit" && get) return api_internal::Audit(c);
    if (res == "settings") return get ? api_internal::Settings(c) : api_internal::SetSetting(c);
    if (res == "breakers" && get) return api_internal::Breakers(c);
    if (res == "divergence" && get) return api_internal::Divergence(c);
    if (res == "reconcile")
      return get ? api_internal::ReconcileJobs(c) : api_internal::Reconcile(c);
    if (res == "tokens") return get ? api_internal::ListTokens(c) : api_internal::CreateToken(c);
    if (res == "overrides") {
      return get ? api_internal::ListOverrides(c) : api_internal::AddOverride(c);
    }
    if (res == "tiers" && get) return api_internal::ListTiers(c);
    return NoRoute(call);
  }
  if (res == "overrides" && post && p.size() == 4 && p[3] == "remove") {
    return api_internal::RemoveOverride(c, p[2]);
  }
  if (res == "tokens" && post && p.size() == 4 && p[3] == "revoke") {
    return api_internal::RevokeToken(c, p[2]);
  }
  if (res == "reconcile" && post) {
    const std::string& domain = p[2];
    if (p.size() == 4 && p[3] == "gc") return api_internal::CollectTombstones(c, domain);
    if (p.size() == 5 && (p[4] == "pause" || p[4] == "resume")) {
      return api_internal::SetJobState(c, domain, p[3], p[4] == "pause" ? "paused" : "running");
    }
    if (p.size() == 5 && p[4] == "throttle") return api_internal::ThrottleJob(c, domain, p[3]);
    return NoRoute(call);
  }
  const std::string& op = p[2];
  if (res == "ops" && p.size() == 3 && get) return api_internal::GetOp(c, op);
  if (p.size() != 4) return NoRoute(call);
  const std::string& verb = p[3];
  if (res == "breakers" && verb == "reset" && post) return api_internal::ResetBreaker(c, op);
  if (res != "ops") return NoRoute(call);
  if (get && verb == "decide") return api_internal::Decide(c, op);
  if (get && verb == "budget") return api_internal::Budget(c, op);
  if (!post) return NoRoute(call);
  if (verb == "advance") return api_internal::Advance(c, op);
  if (verb == "ramp") return api_internal::Ramp(c, op);
  if (verb == "rollback") return api_internal::Rollback(c, op);
  if (verb == "pause") return api_internal::SetPaused(c, op, true);
  if (verb == "resume") return api_internal::SetPaused(c, op, false);
  return NoRoute(call);
}

namespace api_internal {

absl::StatusOr<flags::ChangeContext> Context::Audit(std::string action, bool dry_run) const {
  auto reason = BodyString(call, "reason", /*required=*/true);
  if (!reason.ok()) return reason.status();
  return flags::ChangeContext{call.actor.empty() ? "api:unknown" : call.actor, *reason,
                              std::move(action), dry_run};
}

absl::StatusOr<std::string> BodyString(const ApiCall& call, const char* field, bool required,
                                       std::string fallback) {
  if (!call.body.is_object() || !call.body.contains(field) || call.body[field].is_null()) {
    if (required) {
      return absl::InvalidArgumentError(
          base::StrCat("request body: field \"", field, "\" is required"));
    }
    return fallback;
  }
  const nlohmann::json& v = call.body[field];
  if (!v.is_string()) {
    return absl::InvalidArgumentError(
        base::StrCat("request body: field \"", field, "\" must be a string"));
  }
  if (required && v.get<std::string>().empty()) {
    return absl::InvalidArgumentError(
        base::StrCat("request body: field \"", field, "\" must not be empty"));
  }
  return v.get<std::string>();
}

absl::StatusOr<bool> BodyBool(const ApiCall& call, const char* field) {
  if (!call.body.is_object() || !call.body.contains(field)) return false;
  if (!call.body[field].is_boolean()) {
    return absl::InvalidArgumentError(
        base::StrCat("request body: field \"", field, "\" must be true or false"));
  }
  return call.body[field].get<bool>();
}

absl::StatusOr<int64_t> BodyInt(const ApiCall& call, const char* field, int64_t fallback) {
  if (!call.body.is_object() || !call.body.contains(field)) return fallback;
  if (!call.body[field].is_number_integer()) {
    return absl::InvalidArgumentError(
        base::StrCat("request body: field \"", field, "\" must be an integer"));
  }
  return call.body[field].get<int64_t>();
}

std::string Query(const ApiCall& call, const char* name, std::string fallback) {
  auto it = call.query.find(name);
  return it == call.query.end() ? fallback : it->second;
}

}  // namespace api_internal
}  // namespace cmo::orchestrator
