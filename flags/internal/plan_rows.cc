#include "flags/internal/plan_rows.h"

#include "base/json.h"
#include "base/sql.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::flags::internal {

absl::StatusOr<std::vector<nlohmann::json>> ReadPlanRows(base::SqlDb& db, std::string_view table,
                                                         std::optional<std::string_view> plan) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db.Prepared(
          plan.has_value()
              ? base::StrCat("SELECT definition FROM ", table, " WHERE plan = ?1 ORDER BY position")
              : base::StrCat("SELECT definition FROM ", table, " ORDER BY plan, position")));
  base::SqlStatement::Scope s(*stmt);
  if (plan.has_value()) s->Bind(1, *plan);
  std::vector<nlohmann::json> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&]() -> absl::Status {
    nlohmann::json j = nlohmann::json::parse(s->ColumnText(0), nullptr, false);
    if (j.is_discarded()) {
      return absl::DataLossError(
          base::StrCat(db.where(), ": a row of ", table, " is not JSON; re-apply its plan"));
    }
    out.push_back(std::move(j));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status WritePlanRows(base::SqlDb& db, std::string_view table, std::string_view plan,
                           const std::vector<std::pair<std::string, nlohmann::json>>& rows) {
  {
    CMO_ASSIGN_OR_RETURN(base::SqlStatement * del,
                         db.Prepared(base::StrCat("DELETE FROM ", table, " WHERE plan = ?1")));
    base::SqlStatement::Scope s(*del);
    s->Bind(1, plan);
    CMO_RETURN_IF_ERROR(s->Run());
  }
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * insert,
                       db.Prepared(base::StrCat("INSERT INTO ", table,
                                                " (plan, name, position, definition) VALUES "
                                                "(?1, ?2, ?3, ?4)")));
  for (size_t i = 0; i < rows.size(); ++i) {
    base::SqlStatement::Scope s(*insert);
    s->Bind(1, plan)
        .Bind(2, rows[i].first)
        .Bind(3, static_cast<int64_t>(i))
        .Bind(4, base::JsonText(rows[i].second));
    CMO_RETURN_IF_ERROR(s->Run());
  }
  return absl::OkStatus();
}

}  // namespace cmo::flags::internal
