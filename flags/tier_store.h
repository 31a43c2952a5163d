// Subject tiers (flags/tier.h) and amplification guards (flags/amplifier.h) kept in the
// control state beside the flags: the tiers each
// applied plan declares, and the heaviest writers the control service last found for the
// top_k ones. Each change is one audited transaction with a new flag revision, so the next
// snapshot carries it to every client.
#ifndef CMO_FLAGS_TIER_STORE_H_
#define CMO_FLAGS_TIER_STORE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "flags/amplifier.h"
#include "flags/flag_store.h"
#include "flags/tier.h"

namespace cmo::base {
class SqlDb;
}

namespace cmo::flags {

// Every stored tier, by plan, in the order each plan declares them.
absl::StatusOr<std::vector<Tier>> StoredTiers(base::SqlDb& db);

// Makes `tiers` (validated; each with `plan` set to `plan`) the tiers of `plan`. A tier that
// keeps its name and its top_k keeps the heavy writers found so far (at most the new K).
// Returns whether anything changed (nothing is written or audited otherwise).
absl::StatusOr<bool> ReplaceTiers(FlagStore& flags, std::string_view plan, std::vector<Tier> tiers,
                                  const ChangeContext& ctx);

// Publishes the heaviest writers found for a top_k tier (at most its K). kNotFound for an
// unknown tier; returns whether the set changed (audited only then).
absl::StatusOr<bool> SetHeavyWriters(FlagStore& flags, std::string_view plan, std::string_view tier,
                                     std::vector<std::string> heavy, const ChangeContext& ctx);

// The same for a plan's amplification guards (flags/amplifier.h).
absl::StatusOr<std::vector<Amplifier>> StoredAmplifiers(base::SqlDb& db);
absl::StatusOr<bool> ReplaceAmplifiers(FlagStore& flags, std::string_view plan,
                                       std::vector<Amplifier> amplifiers, const ChangeContext& ctx);

}  // namespace cmo::flags

#endif  // CMO_FLAGS_TIER_STORE_H_
