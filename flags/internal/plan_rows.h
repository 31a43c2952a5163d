// Tables of definitions a plan declares beside its ops (tiers, amplification guards): rows of
// (plan, name, position, definition JSON), replaced per plan in the caller's transaction.
#ifndef CMO_FLAGS_INTERNAL_PLAN_ROWS_H_
#define CMO_FLAGS_INTERNAL_PLAN_ROWS_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cmo::base {
class SqlDb;
}

namespace cmo::flags::internal {

// The definitions of `plan` (every plan when nullopt), by plan then position; a row that is
// not JSON is kDataLoss naming the table.
absl::StatusOr<std::vector<nlohmann::json>> ReadPlanRows(base::SqlDb& db, std::string_view table,
                                                         std::optional<std::string_view> plan);

// Replaces the rows of `plan` with `rows` (name, definition), in order.
absl::Status WritePlanRows(base::SqlDb& db, std::string_view table, std::string_view plan,
                           const std::vector<std::pair<std::string, nlohmann::json>>& rows);

}  // namespace cmo::flags::internal

#endif  // CMO_FLAGS_INTERNAL_PLAN_ROWS_H_
