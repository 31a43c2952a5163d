// Subject tiers: sets of subjects (super users, say) that get a model of their own for the ops
// listing the tier — `bounded_staleness(1s)` while everyone else reads eventual — and stay on
// the strong path until those ops reach the tier's `join_at` stage. A plan declares them
// (migrations/README.md); the control state keeps them beside the flags and every flag snapshot
// carries them, so membership is decided on the request path with no call out.
//
// A subject is in a tier by any of:
//   list   the tier's explicit `subjects` (small sets);
//   rule   a `when` rule over the evaluation context the app passes with the request
//          (`followers >= 100000 and regions_reached >= 3`; OpenFeature's shape), so tiers of
//          tens of millions need no list at all;
//   top_k  the K heaviest writers of the last `window`, which the control service finds from
//          the clients' telemetry (flags/heavy_hitters.h) and publishes as `heavy`.
#ifndef CMO_FLAGS_TIER_H_
#define CMO_FLAGS_TIER_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "flags/flag.h"

namespace cmo::flags {

// One attribute of a request's evaluation context: `{"followers", "250000"}`. Numbers travel as
// text; a rule comparing with a number parses them.
struct Attribute {
  std::string_view key;
  std::string_view value;
};
using EvalContext = std::span<const Attribute>;

enum class RuleOp { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };

struct Condition {
  std::string key;
  RuleOp op = RuleOp::kEqual;
  std::string value;
  std::optional<double> number;  // the value as a number, when it is one: compared numerically
};

// `followers >= 100000 and regions_reached >= 3`: every condition must hold. A missing
// attribute, or a text where a number is compared, fails its condition (a subject the app says
// nothing about is not in the tier).
struct TierRule {
  std::vector<Condition> all;
  std::string text;
};

// kInvalidArgument saying what is wrong and what the grammar is.
absl::StatusOr<TierRule> ParseTierRule(std::string_view text);
bool RuleMatches(const TierRule& rule, EvalContext context);

// Bounds that keep a snapshot (sent to every client) small and a decision cheap.
inline constexpr int kMaxTierSubjects = 10'000;
inline constexpr int kMaxTierRules = 16;
inline constexpr int kMaxTopK = 1000;
inline constexpr absl::Duration kMinTopKWindow = absl::Minutes(1);
inline constexpr absl::Duration kMaxTopKWindow = absl::Hours(24);

struct Tier {
  std::string plan;  // the plan that declares it; tiers are named per plan
  std::string name;
  Target target;
  Stage join_at = Stage::kEventual;
  std::vector<std::string> ops;       // the ops listing the tier
  std::vector<std::string> subjects;  // list members
  std::vector<std::string> when;      // rules (any of), as written
  int32_t top_k = 0;                  // 0: no automatic members
  absl::Duration top_k_window = absl::Minutes(10);
  std::vector<std::string> heavy;  // the current top-K, published by the control service
  // Members' writes (of the tier's ops) replicate through the priority channel: their own
  // change topics and applier consumers, never queued behind the bulk (shadow/README.md).
  bool priority = false;
  bool operator==(const Tier&) const = default;
};

// How a subject was found to be in a tier.
enum class TierVia { kNone, kList, kRule, kTopK };
std::string_view TierViaName(TierVia via);

// kInvalidArgument naming the tier and what to fix: the bounds above, rules that parse,
// join_at ramp or eventual.
absl::Status ValidateTier(const Tier& tier);

// Both the snapshot's and the API's shape: {"plan","name","target","join_at","ops","subjects",
// "when","top_k","window_ms","heavy","priority"}.
nlohmann::json TierToJson(const Tier& tier);
absl::StatusOr<Tier> TierFromJson(const nlohmann::json& j);

}  // namespace cmo::flags

#endif  // CMO_FLAGS_TIER_H_
