#include "flags/override.h"

#include "base/strings.h"
#include "base/time_text.h"

namespace cmo::flags {

bool OverrideCovers(const Override& o, const Flag& flag) {
  if (!o.op.empty()) return o.op == flag.op;
  if (!o.domain.empty()) return o.domain == flag.domain;
  return true;
}

std::string OverrideScope(const Override& o) {
  if (!o.op.empty()) return base::StrCat("op ", o.op);
  if (!o.domain.empty()) return base::StrCat("domain ", o.domain);
  return "every op";
}

nlohmann::json OverrideToJson(const Override& o) {
  return {{"id", o.id},
          {"subject", o.subject},
          {"op", o.op},
          {"domain", o.domain},
          {"scope", OverrideScope(o)},
          {"path", "strong"},
          {"expires", base::Rfc3339(o.expires)},
          {"created", base::Rfc3339(o.created)},
          {"actor", o.actor},
          {"reason", o.reason}};
}

nlohmann::json OverrideToSnapshotJson(const Override& o) {
  return {{"subject", o.subject},
          {"op", o.op},
          {"domain", o.domain},
          {"expires_ms", absl::ToUnixMillis(o.expires)}};
}

absl::StatusOr<Override> OverrideFromSnapshotJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("override: not an object");
  Override o;
  for (auto [field, out] : {std::pair<const char*, std::string*>{"subject", &o.subject},
                            {"op", &o.op},
                            {"domain", &o.domain}}) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_string()) {
      return absl::InvalidArgumentError(base::StrCat("override: ", field, " must be a string"));
    }
    *out = it->get<std::string>();
  }
  auto expires = j.find("expires_ms");
  if (expires == j.end() || !expires->is_number_integer()) {
    return absl::InvalidArgumentError("override: expires_ms must be an integer");
  }
  o.expires = absl::FromUnixMillis(expires->get<int64_t>());
  if (o.subject.empty()) return absl::InvalidArgumentError("override: empty subject");
  return o;
}

}  // namespace cmo::flags
