// An op's consistency budget evaluated over its short and long windows: each SLI's value, its
// burn rate (value / allowed value) in both windows, what is left, and whether it breaches.
//
// Multi-window rule (per SLI, only with at least `min_samples` observations in the short
// window, so a handful of bad samples never trips anything):
//   fast burn: short-window burn >= kFastBurn                    → breach at once
//   slow burn: short-window burn >= 1 and long-window burn >= 1  → breach (both windows agree),
//              once the long window holds more than the short one (else they are one sample)
#ifndef CMO_ORCHESTRATOR_BUDGET_BUDGET_EVAL_H_
#define CMO_ORCHESTRATOR_BUDGET_BUDGET_EVAL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "migrations/plan.h"
#include "nlohmann/json.hpp"
#include "orchestrator/budget/sli_window.h"

namespace cmo::orchestrator {

inline constexpr double kFastBurn = 10.0;

struct SliReport {
  std::string name;  // stale_read_ratio, divergence_ratio, fallback_ratio, session_violations,
                     // replication_lag_p99
  std::string unit;  // ppm, count, ms
  double short_value = 0;
  double long_value = 0;
  double limit = 0;
  double burn_short = 0;
  double burn_long = 0;
  int64_t observations = 0;  // in the short window: samples, eventual reads or lag readings
  int64_t long_observations = 0;
  bool enough_data = false;
  double remaining = 1;  // share of the budget left over the long window, 0..1
  std::string trips_when;  // the rule in words, for `cmo budget`
};

struct BudgetStatus {
  std::vector<SliReport> slis;
  bool breach = false;
  std::string reason;  // the first breaching SLI with its measured values
};

// Replication lag p99 (ms) over each window, when the control service measures it.
struct LagReading {
  std::optional<double> short_p99_ms;
  std::optional<double> long_p99_ms;
};

BudgetStatus EvaluateBudget(const migrations::Budget& budget, const SliCounts& short_window,
                            const SliCounts& long_window, const LagReading& lag = {});

nlohmann::json ToJson(const BudgetStatus& s);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BUDGET_BUDGET_EVAL_H_
