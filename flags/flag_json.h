// The JSON shape of a flag, shared by the audit log, the CLI's --output json and (later) the API.
// Field names are a contract with operators' scripts: add fields, never rename or remove them.
#ifndef CMO_FLAGS_FLAG_JSON_H_
#define CMO_FLAGS_FLAG_JSON_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "flags/flag.h"
#include "flags/snapshot.h"

namespace cmo::flags {

// {"op","domain","class","target","stage","percent","ramp_bp","shadow_sample_percent",
//  "shadow_bp","salt","breaker","probe_bp","effective_percent","revision"}; percents are numbers.
nlohmann::json FlagToJson(const Flag& flag);

// The inverse of FlagToJson (derived fields ignored). kInvalidArgument naming the bad field;
// never throws.
absl::StatusOr<Flag> FlagFromJson(const nlohmann::json& j);

// A whole snapshot as published on Kafka `cmo.flags` (key "snapshot"), version 1:
//   {"v":1,"revision":42,"published_ms":...,"flags":[FlagToJson...],
//    "overrides":[OverrideToSnapshotJson...],"tiers":[TierToJson...],
//    "amplifiers":[AmplifierToJson...]}  (the last three: absent from older publishers)
inline constexpr int kMaxSnapshotTiers = 256;
std::string EncodeSnapshot(const Snapshot& snapshot, absl::Time published);
absl::StatusOr<std::shared_ptr<const Snapshot>> DecodeSnapshot(std::string_view text);

// Percent as a JSON number: 1234 bp -> 12.34.
double BpToPercent(int32_t bp);

}  // namespace cmo::flags

#endif  // CMO_FLAGS_FLAG_JSON_H_
