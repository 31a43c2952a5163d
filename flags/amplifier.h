// Influence amplification guards: a write whose request context says it reaches many people
// (`reach > 100000`) makes the item it wrote "hot" for a window, and reads of a hot item take
// the strong path on every client until the window ends — so the first seconds of a viral post
// read consistently everywhere, while the rest of the op stays eventual. A plan declares one
// per write op (`amplify:`, migrations/README.md); the control state keeps them beside the
// flags and the flag snapshot carries them. The hot items themselves travel between clients
// on Kafka `cmo.amplified` (shadow/hot_items.h), not through the control service: they must
// arrive in milliseconds, and there may be many.
#ifndef CMO_FLAGS_AMPLIFIER_H_
#define CMO_FLAGS_AMPLIFIER_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cmo::flags {

inline constexpr absl::Duration kMaxAmplifyWindow = absl::Minutes(10);

struct Amplifier {
  std::string plan;
  std::string op;    // a write op
  std::string when;  // a tier rule (flags/tier.h) over the write's evaluation context
  absl::Duration window = absl::Seconds(30);
  bool operator==(const Amplifier&) const = default;
};

// kInvalidArgument naming the op and what to fix.
absl::Status ValidateAmplifier(const Amplifier& a);
// {"plan","op","when","window_ms"}: the snapshot's and the API's shape.
nlohmann::json AmplifierToJson(const Amplifier& a);
absl::StatusOr<Amplifier> AmplifierFromJson(const nlohmann::json& j);

}  // namespace cmo::flags

#endif  // CMO_FLAGS_AMPLIFIER_H_
