// GET /v1/tiers: every applied plan's subject tiers (flags/tier.h), with the heaviest writers
// the control service published for the top_k ones.
#include "flags/tier_store.h"
#include "orchestrator/api/internal/handlers.h"

namespace cmo::orchestrator::api_internal {

absl::StatusOr<nlohmann::json> ListTiers(const Context& c) {
  auto tiers = flags::StoredTiers(c.state.flags->db());
  if (!tiers.ok()) return tiers.status();
  nlohmann::json out = nlohmann::json::array();
  for (const flags::Tier& t : *tiers) out.push_back(flags::TierToJson(t));
  return out;
}

}  // namespace cmo::orchestrator::api_internal
