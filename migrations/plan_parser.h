// Reading a plan file: YAML syntax, structure, types and units (plan_parser.cc), then meaning:
// cross-references, ordering and classes (plan_validator.cc). Every problem is collected with
// its position; nothing stops at the first error.
#ifndef CMO_MIGRATIONS_PLAN_PARSER_H_
#define CMO_MIGRATIONS_PLAN_PARSER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "migrations/diagnostics.h"
#include "migrations/plan.h"

namespace cmo::migrations {

// Plan files larger than this are refused before parsing (no real plan comes near it).
inline constexpr size_t kMaxPlanBytes = 1 << 20;

struct ParseResult {
  Plan plan;                       // meaningful only when errors is empty
  std::vector<Diagnostic> errors;  // sorted by position
  bool ok() const { return errors.empty(); }
};

// Parses and validates plan text. Never throws.
ParseResult ParsePlan(std::string_view yaml);

// Reads and parses a file. kInvalidArgument listing every "FILE:LINE:COL: message", one a line;
// kNotFound if the file cannot be read.
// A plan file's text, reading at most kMaxPlanBytes + 1 bytes of it: kNotFound when it cannot
// be read, kInvalidArgument ("FILE:1:1: ... larger than ...") when it is too large.
absl::StatusOr<std::string> ReadPlanText(const std::string& path);
absl::StatusOr<Plan> LoadPlanFile(const std::string& path);

// Meaning checks on a structurally parsed plan (called by ParsePlan).
void ValidatePlan(const Plan& plan, Diagnostics& diagnostics);

}  // namespace cmo::migrations

#endif  // CMO_MIGRATIONS_PLAN_PARSER_H_
