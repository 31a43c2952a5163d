// Time compression for `cmo demo`: a copy of a plan whose holds are divided by a factor and
// whose evidence-count thresholds are scaled to what a laptop's synthetic load produces, so a
// migration planned over a day plays out in minutes. Everything else (budgets, ratios, lag
// limits, the steps themselves) is the plan as written.
#ifndef CMO_ORCHESTRATOR_DEMO_PLAN_COMPRESSION_H_
#define CMO_ORCHESTRATOR_DEMO_PLAN_COMPRESSION_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cmo::orchestrator {

struct Compression {
  double time_factor = 1;         // holds / time_factor (never under 1 s)
  double count_factor = 1;        // `shadow_samples >= N` gates / count_factor
  double min_samples_factor = 1;  // budgets' `min_samples: N` / min_samples_factor
};

// Rewrites `yaml` (the text of a plan) line by line, keeping comments and layout, and says
// what it changed in a header comment. kInvalidArgument for a duration it cannot read.
absl::StatusOr<std::string> CompressPlan(std::string_view yaml, const Compression& c);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_DEMO_PLAN_COMPRESSION_H_
