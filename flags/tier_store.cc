#include "flags/tier_store.h"

#include <algorithm>

#include "base/json.h"
#include "base/sql.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::flags {
namespace {

absl::StatusOr<std::vector<Tier>> TiersOf(base::SqlDb& db, std::optional<std::string_view> plan) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db.Prepared(plan.has_value()
                      ? "SELECT definition FROM tiers WHERE plan = ?1 ORDER BY position"
                      : "SELECT definition FROM tiers ORDER BY plan, position"));
  base::SqlStatement::Scope s(*stmt);
  if (plan.has_value()) s->Bind(1, *plan);
  std::vector<Tier> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&]() -> absl::Status {
    nlohmann::json j = nlohmann::json::parse(s->ColumnText(0), nullptr, false);
    absl::StatusOr<Tier> t = TierFromJson(j);
    if (!t.ok()) {
      return absl::DataLossError(base::StrCat(db.where(), ": a stored tier is unreadable (",
                                              t.status().message(),
                                              "); re-apply its plan with `cmo plan apply`"));
    }
    out.push_back(*std::move(t));
    return absl::OkStatus();
  }));
  return out;
}

nlohmann::json TiersJson(const std::vector<Tier>& tiers) {
  nlohmann::json out = nlohmann::json::array();
  for (const Tier& t : tiers) out.push_back(TierToJson(t));
  return out;
}

// In the audited transaction: the plan's rows replaced by `tiers`.
absl::Status WriteTiers(base::SqlDb& db, std::string_view plan, const std::vector<Tier>& tiers) {
  {
    CMO_ASSIGN_OR_RETURN(base::SqlStatement * del,
                         db.Prepared("DELETE FROM tiers WHERE plan = ?1"));
    base::SqlStatement::Scope s(*del);
    s->Bind(1, plan);
    CMO_RETURN_IF_ERROR(s->Run());
  }
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * insert,
      db.Prepared("INSERT INTO tiers (plan, name, position, definition) VALUES (?1, ?2, ?3, ?4)"));
  for (size_t i = 0; i < tiers.size(); ++i) {
    base::SqlStatement::Scope s(*insert);
    s->Bind(1, plan)
        .Bind(2, tiers[i].name)
        .Bind(3, static_cast<int64_t>(i))
        .Bind(4, base::JsonText(TierToJson(tiers[i])));
    CMO_RETURN_IF_ERROR(s->Run());
  }
  return absl::OkStatus();
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
