// GET /v1/overrides, POST /v1/overrides {subject, op | domain, ttl, strong, reason},
// POST /v1/overrides/{id}/remove {reason}: support overrides (flags/override.h).
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "base/strings.h"
#include "flags/override_store.h"
#include "orchestrator/api/internal/handlers.h"

namespace cmo::orchestrator::api_internal {

absl::StatusOr<nlohmann::json> ListOverrides(const Context& c) {
  auto active = flags::ActiveOverrides(c.state.flags->db(), c.clock.Now());
  if (!active.ok()) return active.status();
  nlohmann::json out = nlohmann::json::array();
  for (const flags::Override& o : *active) out.push_back(flags::OverrideToJson(o));
  return out;
}

absl::StatusOr<nlohmann::json> AddOverride(const Context& c) {
  flags::Override o;
  auto subject = BodyString(c.call, "subject", true);
  auto op = BodyString(c.call, "op", false);
  auto domain = BodyString(c.call, "domain", false);
  auto ttl_text = BodyString(c.call, "ttl", true);
  for (const auto* s : {&subject, &op, &domain, &ttl_text}) {
    if (!s->ok()) return s->status();
  }
  // Strong is the only override there is; asking for it by name keeps a future kind from
  // being taken for this one.
  auto strong = BodyBool(c.call, "strong");
  if (!strong.ok()) return strong.status();
  if (!*strong) {
    return absl::InvalidArgumentError(
        "strong: must be true (an override sends the subject to the strong path; there is no "
        "other kind)");
  }
  absl::Duration ttl;
  if (!absl::ParseDuration(*ttl_text, &ttl)) {
    return absl::InvalidArgumentError(
        base::StrCat("ttl: \"", *ttl_text, "\" is not a duration (say 30m, 2h, 72h)"));
  }
  auto ctx = c.Audit("override");
  if (!ctx.ok()) return ctx.status();
  o.subject = *subject;
  o.op = *op;
  o.domain = *domain;
  o.expires = c.clock.Now() + ttl;
  auto added = flags::AddOverride(*c.state.flags, std::move(o), *ctx);
  if (!added.ok()) return added.status();
  return flags::OverrideToJson(*added);
}

absl::StatusOr<nlohmann::json> RemoveOverride(const Context& c, const std::string& id_text) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(id_text, &id) || id <= 0) {
    return absl::InvalidArgumentError(
        base::StrCat("override id must be a positive number (the id `cmo override list` shows)"));
  }
  auto ctx = c.Audit("override.remove");
  if (!ctx.ok()) return ctx.status();
  auto removed = flags::RemoveOverride(*c.state.flags, id, *ctx);
  if (!removed.ok()) return removed.status();
  nlohmann::json out = flags::OverrideToJson(*removed);
  out["removed"] = true;
  return out;
}

}  // namespace cmo::orchestrator::api_internal
