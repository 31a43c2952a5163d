// Support overrides: one subject (usually a user) forced onto the strong path — for one op, the
// ops of one domain, or every op — until the override expires. For customer-support sessions
// and complaints under investigation ("a user says their comment is missing"): whatever the
// ramp, that user reads from the primary while support looks. Kept in the control state,
// audited, bounded in number (each is in every flag snapshot sent to every client) and
// distributed with the flags, so every client applies one within the flag propagation bound.
#ifndef CMO_FLAGS_OVERRIDE_H_
#define CMO_FLAGS_OVERRIDE_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "flags/flag.h"

namespace cmo::flags {

struct Override {
  int64_t id = 0;
  std::string subject;
  std::string op;      // "" = not limited to one op
  std::string domain;  // "" = not limited to one domain (at most one of op, domain is set)
  absl::Time expires = absl::UnixEpoch();
  absl::Time created = absl::UnixEpoch();
  std::string actor;
  std::string reason;
};

// Active overrides at most: a snapshot with all of them stays far below Kafka's default
// 1 MB message (~100 bytes each).
inline constexpr int kMaxOverrides = 5000;
// No override lives longer: support overrides end by themselves.
inline constexpr absl::Duration kMaxOverrideTtl = absl::Hours(24 * 30);

// Whether `o` covers `flag`'s op (the subject is matched by the caller).
bool OverrideCovers(const Override& o, const Flag& flag);
// "op post.like", "domain likes", "every op".
std::string OverrideScope(const Override& o);

// The API's and CLI's shape: {"id","subject","op","domain","scope","expires","created",
// "actor","reason"} (times RFC 3339).
nlohmann::json OverrideToJson(const Override& o);
// The flag snapshot's shape, which goes to every client: {"subject","op","domain",
// "expires_ms"} only (who and why stay in the control state).
nlohmann::json OverrideToSnapshotJson(const Override& o);
absl::StatusOr<Override> OverrideFromSnapshotJson(const nlohmann::json& j);

}  // namespace cmo::flags

#endif  // CMO_FLAGS_OVERRIDE_H_
