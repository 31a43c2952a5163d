// Gates: the conditions on measured SLIs a plan step must satisfy (for its whole hold time)
// before the next step, e.g. "divergence_ratio < 0.1%", or `manual` (an operator advances).
#ifndef CMO_MIGRATIONS_GATE_H_
#define CMO_MIGRATIONS_GATE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "migrations/plan.h"

namespace cmo::migrations {

// Parses "METRIC OP VALUE" (OP: < <= > >= ==) or "manual". The value's unit must match the
// metric: ratios take percentages, lag takes a duration, counts a whole number.
absl::StatusOr<Gate> ParseGate(std::string_view text);

std::vector<std::string_view> MetricNames();

// The latest measured value of a metric for an op, in the gate's normalised units.
class MetricSource {
 public:
  virtual ~MetricSource() = default;
  virtual std::optional<int64_t> Latest(std::string_view op, Metric metric) = 0;
};

struct GateResult {
  const Gate* gate;
  std::optional<int64_t> measured;  // nullopt: no data yet
  bool holds;
};

// Evaluates a gate; `manual_approved` says whether an operator approved this step.
GateResult EvaluateGate(const Gate& gate, std::string_view op, MetricSource& metrics,
                        bool manual_approved);

}  // namespace cmo::migrations

#endif  // CMO_MIGRATIONS_GATE_H_
