#include "flags/tier_store.h"

#include <algorithm>

#include "base/json.h"
#include "base/sql.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "flags/internal/plan_rows.h"

namespace cmo::flags {
namespace {

absl::StatusOr<std::vector<Tier>> TiersOf(base::SqlDb& db, std::optional<std::string_view> plan) {
  CMO_ASSIGN_OR_RETURN(std::vector<nlohmann::json> rows, internal::ReadPlanRows(db, "tiers", plan));
  std::vector<Tier> out;
  for (const nlohmann::json& j : rows) {
    absl::StatusOr<Tier> t = TierFromJson(j);
    if (!t.ok()) {
      return absl::DataLossError(base::StrCat(db.where(), ": a stored tier is unreadable (",
                                              t.status().message(),
                                              "); re-apply its plan with `cmo plan apply`"));
    }
    out.push_back(*std::move(t));
  }
  return out;
}

nlohmann::json TiersJson(const std::vector<Tier>& tiers) {
  nlohmann::json out = nlohmann::json::array();
  for (const Tier& t : tiers) out.push_back(TierToJson(t));
  return out;
}

// In the audited transaction: the plan's rows replaced by `tiers`.
absl::Status WriteTiers(base::SqlDb& db, std::string_view plan, const std::vector<Tier>& tiers) {
  std::vector<std::pair<std::string, nlohmann::json>> rows;
  for (const Tier& t : tiers) rows.emplace_back(t.name, TierToJson(t));
  return internal::WritePlanRows(db, "tiers", plan, rows);
}

absl::StatusOr<std::vector<Amplifier>> AmplifiersOf(base::SqlDb& db,
                                                    std::optional<std::string_view> plan) {
  CMO_ASSIGN_OR_RETURN(std::vector<nlohmann::json> rows,
                       internal::ReadPlanRows(db, "amplifiers", plan));
  std::vector<Amplifier> out;
  for (const nlohmann::json& j : rows) {
    absl::StatusOr<Amplifier> a = AmplifierFromJson(j);
    if (!a.ok()) {
      return absl::DataLossError(base::StrCat(db.where(),
                                              ": a stored amplify guard is unreadable (",
                                              a.status().message(), "); re-apply its plan"));
    }
    out.push_back(*std::move(a));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Tier>> StoredTiers(base::SqlDb& db) { return TiersOf(db, std::nullopt); }

absl::StatusOr<bool> ReplaceTiers(FlagStore& flags, std::string_view plan, std::vector<Tier> tiers,
                                  const ChangeContext& ctx) {
  base::SqlDb& db = flags.db();
  CMO_ASSIGN_OR_RETURN(std::vector<Tier> before, TiersOf(db, plan));
  for (Tier& t : tiers) {
    t.plan = std::string(plan);
    t.heavy.clear();
    auto old =
        std::find_if(before.begin(), before.end(), [&](const Tier& b) { return b.name == t.name; });
    if (old != before.end() && t.top_k > 0) {
      t.heavy = old->heavy;
      if (t.heavy.size() > static_cast<size_t>(t.top_k)) t.heavy.resize(t.top_k);
    }
    CMO_RETURN_IF_ERROR(ValidateTier(t));
  }
  if (tiers == before) return false;
  auto write = [&](nlohmann::json& b, nlohmann::json& a) -> absl::Status {
    CMO_RETURN_IF_ERROR(WriteTiers(db, plan, tiers));
    b = before.empty() ? nlohmann::json() : TiersJson(before);
    a = TiersJson(tiers);
    return absl::OkStatus();
  };
  CMO_RETURN_IF_ERROR(flags.RecordEvent(base::StrCat("plan:", plan), ctx, write).status());
  return true;
}

absl::StatusOr<bool> SetHeavyWriters(FlagStore& flags, std::string_view plan, std::string_view tier,
                                     std::vector<std::string> heavy, const ChangeContext& ctx) {
  base::SqlDb& db = flags.db();
  CMO_ASSIGN_OR_RETURN(std::vector<Tier> tiers, TiersOf(db, plan));
  auto it = std::find_if(tiers.begin(), tiers.end(), [&](const Tier& t) { return t.name == tier; });
  if (it == tiers.end() || it->top_k == 0) {
    return absl::NotFoundError(
        base::StrCat("plan ", plan, " has no top_k tier named \"", tier, "\""));
  }
  if (heavy.size() > static_cast<size_t>(it->top_k)) heavy.resize(it->top_k);
  if (heavy == it->heavy) return false;
  nlohmann::json before = {{"tier", it->name}, {"heavy", it->heavy}};
  it->heavy = std::move(heavy);
  auto write = [&](nlohmann::json& b, nlohmann::json& a) -> absl::Status {
    CMO_RETURN_IF_ERROR(WriteTiers(db, plan, tiers));
    b = before;
    a = {{"tier", it->name}, {"heavy", it->heavy}};
    return absl::OkStatus();
  };
  CMO_RETURN_IF_ERROR(flags.RecordEvent(base::StrCat("plan:", plan), ctx, write).status());
  return true;
}

}  // namespace cmo::flags

namespace cmo::flags {

absl::StatusOr<std::vector<Amplifier>> StoredAmplifiers(base::SqlDb& db) {
  return AmplifiersOf(db, std::nullopt);
}

absl::StatusOr<bool> ReplaceAmplifiers(FlagStore& flags, std::string_view plan,
                                       std::vector<Amplifier> amplifiers,
                                       const ChangeContext& ctx) {
  base::SqlDb& db = flags.db();
  CMO_ASSIGN_OR_RETURN(std::vector<Amplifier> before, AmplifiersOf(db, plan));
  for (Amplifier& a : amplifiers) {
    a.plan = std::string(plan);
    CMO_RETURN_IF_ERROR(ValidateAmplifier(a));
  }
  if (amplifiers == before) return false;
  auto json = [](const std::vector<Amplifier>& v) {
    nlohmann::json out = nlohmann::json::array();
    for (const Amplifier& a : v) out.push_back(AmplifierToJson(a));
    return out;
  };
  auto write = [&](nlohmann::json& b, nlohmann::json& a) -> absl::Status {
    std::vector<std::pair<std::string, nlohmann::json>> rows;
    for (const Amplifier& x : amplifiers) rows.emplace_back(x.op, AmplifierToJson(x));
    CMO_RETURN_IF_ERROR(internal::WritePlanRows(db, "amplifiers", plan, rows));
    b = before.empty() ? nlohmann::json() : json(before);
    a = json(amplifiers);
    return absl::OkStatus();
  };
  CMO_RETURN_IF_ERROR(flags.RecordEvent(base::StrCat("plan:", plan), ctx, write).status());
  return true;
}

}  // namespace cmo::flags
