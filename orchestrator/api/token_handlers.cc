// GET /v1/tokens, POST /v1/tokens {name, role, reason}, POST /v1/tokens/{name}/revoke {reason}:
// the named API tokens (internal/api_tokens.h). Creating one answers its secret, once.
#include "absl/time/time.h"
#include "base/message_auth.h"
#include "base/strings.h"
#include "base/time_text.h"
#include "base/utf8.h"
#include "orchestrator/api/internal/api_tokens.h"
#include "orchestrator/api/internal/handlers.h"

namespace cmo::orchestrator::api_internal {
namespace {

std::string Rfc3339(int64_t unix_ms) { return base::Rfc3339(absl::FromUnixMillis(unix_ms)); }

nlohmann::json TokenJson(const ApiToken& t) {
  nlohmann::json j = {{"name", t.name},
                      {"role", RoleName(t.role)},
                      {"created", Rfc3339(t.created_ms)},
                      {"created_by", t.created_by},
                      {"revoked", nullptr}};
  if (t.revoked_ms.has_value()) j["revoked"] = Rfc3339(*t.revoked_ms);
  return j;
}

}  // namespace

absl::StatusOr<nlohmann::json> ListTokens(const Context& c) {
  auto tokens = LoadTokens(*c.state.plans);
  if (!tokens.ok()) return tokens.status();
  nlohmann::json out = nlohmann::json::array();
  for (const ApiToken& t : *tokens) out.push_back(TokenJson(t));
  return out;
}

absl::StatusOr<nlohmann::json> CreateToken(const Context& c) {
  auto name = BodyString(c.call, "name", true);
  if (!name.ok()) return name.status();
  if (absl::Status s = CheckTokenName(*name); !s.ok()) return s;
  auto role_name = BodyString(c.call, "role", true);
  if (!role_name.ok()) return role_name.status();
  const std::optional<Role> role = ParseRole(*role_name);
  if (!role.has_value()) {
    return absl::InvalidArgumentError(base::StrCat(
        "role \"", *role_name, "\" does not exist; the roles are viewer, operator and admin"));
  }
  auto ctx = c.Audit("token.create");
  if (!ctx.ok()) return ctx.status();
  auto tokens = LoadTokens(*c.state.plans);
  if (!tokens.ok()) return tokens.status();
  for (const ApiToken& t : *tokens) {
    if (t.name == *name) {
      return absl::AlreadyExistsError(base::StrCat(
          "a token named ", *name, " exists", t.revoked_ms ? " (revoked)" : "",
          "; names are never reused, so the audit log keeps meaning one holder: pick another"));
    }
  }
  auto secret = base::RandomHex(32);
  if (!secret.ok()) return secret.status();
  ApiToken token{
      *name,      *role,       base::Sha256Hex(*secret), absl::ToUnixMillis(c.clock.Now()),
      ctx->actor, std::nullopt};
  tokens->push_back(token);
  if (absl::Status s = SaveTokens(*c.state.plans, *tokens); !s.ok()) return s;
  auto rev = c.state.flags->RecordEvent("tokens", *ctx, nullptr, TokenJson(token));
  if (!rev.ok()) return rev.status();
  nlohmann::json out = TokenJson(token);
  out["secret"] = *secret;
  return out;
}

absl::StatusOr<nlohmann::json> RevokeToken(const Context& c, const std::string& name) {
  auto ctx = c.Audit("token.revoke");
  if (!ctx.ok()) return ctx.status();
  auto tokens = LoadTokens(*c.state.plans);
  if (!tokens.ok()) return tokens.status();
  for (ApiToken& t : *tokens) {
    if (t.name != name) continue;
    if (t.revoked_ms.has_value()) return TokenJson(t);  // already: nothing to do
    const nlohmann::json before = TokenJson(t);
    t.revoked_ms = absl::ToUnixMillis(c.clock.Now());
    if (absl::Status s = SaveTokens(*c.state.plans, *tokens); !s.ok()) return s;
    auto rev = c.state.flags->RecordEvent("tokens", *ctx, before, TokenJson(t));
    if (!rev.ok()) return rev.status();
    return TokenJson(t);
  }
  return absl::NotFoundError(
      base::StrCat("no token named ", base::SanitizeUtf8(name), "; `cmo token list` shows them"));
}

}  // namespace cmo::orchestrator::api_internal
