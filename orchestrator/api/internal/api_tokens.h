// Who may call what: the roles of the HTTP API, the role each call needs, and the named API
// tokens that carry a role. Tokens live in the control state (one JSON document in the
// settings table, so every instance of an HA control plane sees the same ones), stored as the
// SHA-256 of the secret: the secret is shown once, when created, and never stored.
#ifndef CMO_ORCHESTRATOR_API_INTERNAL_API_TOKENS_H_
#define CMO_ORCHESTRATOR_API_INTERNAL_API_TOKENS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "migrations/plan_store.h"

namespace cmo::orchestrator::api_internal {

// Ordered: each role may do what the ones below it may.
enum class Role {
  kNone = 0,      // no token: health, metrics, the dashboard page, flag and plan state
  kViewer = 1,    // reads of user-level data (divergence, audit, decide, OFREP)
  kOperator = 2,  // advance, ramp, rollback, pause, resume, breaker reset, reconcile
  kAdmin = 3,     // register ops, apply plans, settings (safety limits), tokens
};

std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

// The role an HTTP call needs. A GET of a path that does not exist needs none (it is a 404);
// any other unlisted call needs admin. A new route of LocalApi that reads user-level data
// must be listed here (tests/orchestrator/api/api_tokens_test.cc covers every route).
Role RequiredRole(std::string_view method, std::string_view path);

struct ApiToken {
  std::string name;
  Role role = Role::kViewer;
  std::string sha256;  // of the secret, hex
  int64_t created_ms = 0;
  std::string created_by;
  std::optional<int64_t> revoked_ms;
};

// Token names: 1–64 of [a-z0-9._-], starting with a letter or digit.
absl::Status CheckTokenName(std::string_view name);

// Every token ever created, revoked ones included (their names are never reused).
absl::StatusOr<std::vector<ApiToken>> LoadTokens(migrations::PlanStore& store);
absl::Status SaveTokens(migrations::PlanStore& store, const std::vector<ApiToken>& tokens);

}  // namespace cmo::orchestrator::api_internal

#endif  // CMO_ORCHESTRATOR_API_INTERNAL_API_TOKENS_H_
