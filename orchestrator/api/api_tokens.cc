#include "orchestrator/api/internal/api_tokens.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/strings.h"
#include "base/utf8.h"

namespace cmo::orchestrator::api_internal {
namespace {

constexpr std::string_view kSetting = "api_tokens";

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "none";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

Role RequiredRole(std::string_view method, std::string_view path) {
  if (const size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  std::vector<std::string_view> p;
  for (size_t at = 0; at < path.size();) {
    const size_t slash = std::min(path.find('/', at), path.size());
    if (slash > at) p.push_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  if (method == "GET") {
    if (p.empty()) return Role::kNone;  // the dashboard page; its data calls are checked apart
    if (p.size() == 1 && (p[0] == "healthz" || p[0] == "readyz" || p[0] == "metrics")) {
      return Role::kNone;
    }
    if (p[0] != "v1" || p.size() < 2) return Role::kNone;  // no such path: 404
    const std::string_view res = p[1];
    if (res == "tokens") return Role::kAdmin;
    // Which path a user is on, what happened to a user's data, who did what.
    // Tiers list subjects by name (their members, the heaviest writers).
    if (res == "divergence" || res == "audit" || res == "overrides" || res == "tiers") {
      return Role::kViewer;
    }
    if (res == "ops" && p.size() == 4 && p[3] == "decide") return Role::kViewer;
    // Flag, plan, breaker, budget and replication state, and paths that do not exist (404).
    return Role::kNone;
  }
  if (method != "POST") return Role::kAdmin;
  // OpenFeature evaluation is a read (which path is this user on), sent as a POST.
  if (!p.empty() && p[0] == "ofrep") return Role::kViewer;
  if (p.size() < 2 || p[0] != "v1") return Role::kAdmin;
  const std::string_view res = p[1];
  if (res == "reconcile") return Role::kOperator;
  // Support overrides only ever move a user to strong: support's own tool.
  if (res == "overrides") return Role::kOperator;
  if (res == "breakers" && p.size() == 4 && p[3] == "reset") return Role::kOperator;
  if (res == "ops" && p.size() == 4) {
    for (std::string_view verb : {"advance", "ramp", "rollback", "pause", "resume"}) {
      if (p[3] == verb) return Role::kOperator;
    }
  }
  return Role::kAdmin;  // POST /v1/ops (register), /v1/plans, /v1/settings, /v1/tokens...
}

absl::Status CheckTokenName(std::string_view name) {
  bool ok =
      !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-' && name[0] != '_';
  for (char c : name) {
    ok = ok &&
         ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(base::StrCat(
      "token name \"", base::SanitizeUtf8(name),
      "\" is not usable: give 1 to 64 of a-z, 0-9, '.', '-', '_', starting with a letter or "
      "digit (e.g. ci-deployer)"));
}

absl::StatusOr<std::vector<ApiToken>> LoadTokens(migrations::PlanStore& store) {
  auto text = store.GetSetting(kSetting);
  if (!text.ok()) return text.status();
  std::vector<ApiToken> out;
  if (!text->has_value()) return out;
  const nlohmann::json j = nlohmann::json::parse(**text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) {
    return absl::DataLossError(
        "the control state's api_tokens setting is not a JSON array; restore it from a backup "
        "or revoke and recreate the tokens");
  }
  for (const nlohmann::json& t : j) {
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string() || !t.contains("sha256") ||
        !t["sha256"].is_string() || !t.contains("role") || !t["role"].is_string() ||
        !ParseRole(t["role"].get<std::string>()).has_value()) {
      return absl::DataLossError(base::StrCat(
          "the control state's api_tokens setting holds an entry that is not a token: ",
          base::JsonText(t)));
    }
    ApiToken token;
    token.name = t["name"].get<std::string>();
    token.role = *ParseRole(t["role"].get<std::string>());
    token.sha256 = t["sha256"].get<std::string>();
    token.created_ms = t.value("created_ms", int64_t{0});
    token.created_by = t.value("created_by", std::string());
    if (t.contains("revoked_ms") && t["revoked_ms"].is_number_integer()) {
      token.revoked_ms = t["revoked_ms"].get<int64_t>();
    }
    out.push_back(std::move(token));
  }
  return out;
}

absl::Status SaveTokens(migrations::PlanStore& store, const std::vector<ApiToken>& tokens) {
  nlohmann::json j = nlohmann::json::array();
  for (const ApiToken& t : tokens) {
    nlohmann::json e = {{"name", t.name},
                        {"role", RoleName(t.role)},
                        {"sha256", t.sha256},
                        {"created_ms", t.created_ms},
                        {"created_by", t.created_by}};
    if (t.revoked_ms.has_value()) e["revoked_ms"] = *t.revoked_ms;
    j.push_back(std::move(e));
  }
  return store.PutSetting(kSetting, base::JsonText(j));
}

}  // namespace cmo::orchestrator::api_internal
