// The control service's safety net: folds every client's telemetry into per-op sliding
// windows, evaluates each op's consistency budget (from the applied plans: the op's named
// budget, else its class default, else the built-in default), steps the op's breaker, and
// applies each transition to the op's flag in one transaction with its audit entry and the
// breaker record. Also writes the short-window SLIs into the gate metrics, so plan gates see
// real telemetry.
#ifndef CMO_ORCHESTRATOR_BUDGET_BUDGET_CONTROLLER_H_
#define CMO_ORCHESTRATOR_BUDGET_BUDGET_CONTROLLER_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "flags/flag_store.h"
#include "migrations/plan.h"
#include "migrations/plan_store.h"
#include "orchestrator/budget/breaker.h"
#include "orchestrator/budget/sli_window.h"
#include "shadow/telemetry.h"

namespace cmo::orchestrator {

struct Transition {
  std::string op;
  BreakerEvent event = BreakerEvent::kNone;
  BreakerRecord record;  // after the transition
  absl::Time at;
};

struct BudgetControllerOptions {
  BreakerOptions breaker;
  // Overrides the budgets' windows (demo time compression); zero: use each budget's own.
  absl::Duration short_window = absl::ZeroDuration();
  absl::Duration long_window = absl::ZeroDuration();
  absl::Duration plan_refresh = absl::Seconds(2);
};

// Not thread-safe: owned by the control loop's thread.
class BudgetController {
 public:
  // Called when a `freeze` budget breaches (the caller pauses the op's plan).
  using OnFreeze = std::function<absl::Status(const std::string& op, const std::string& reason)>;
  // Called when a breaker closes after a healthy probe (the caller lets the op's plan step
  // back or wait, as its phase says).
  using OnRecover = std::function<absl::Status(const std::string& op)>;

  static absl::StatusOr<std::unique_ptr<BudgetController>> Create(
      flags::FlagStore& flags, migrations::PlanStore& plans, const base::Clock& clock,
      BudgetControllerOptions options = {}, OnFreeze on_freeze = nullptr,
      OnRecover on_recover = nullptr);

  void Ingest(const shadow::TelemetryWindow& window);
  // Replication lag measured by the control service's appliers (all regions' worst), set
  // before every Evaluate(); nullopt (no evidence) clears the last one: a stale figure is not
  // an observation.
  void SetReplicationLagP99(std::optional<absl::Duration> p99) { lag_p99_ = p99; }

  // Evaluates every op that has an eventual path to lose (stage shadow or later) or a breaker
  // that is not closed; returns the transitions applied.
  absl::StatusOr<std::vector<Transition>> Evaluate();

  // `cmo breaker reset`: closes the breaker (and clears a freeze) on an operator's word.
  absl::StatusOr<Transition> Reset(std::string_view op, const flags::ChangeContext& ctx);

  BreakerStore& breakers() { return *breakers_; }

 private:
  BudgetController(flags::FlagStore& flags, migrations::PlanStore& plans,
                   std::unique_ptr<BreakerStore> breakers, const base::Clock& clock,
                   BudgetControllerOptions options, OnFreeze on_freeze, OnRecover on_recover);
  absl::Status RefreshBudgets();
  const migrations::Budget& BudgetFor(const flags::Flag& flag) const;
  SliWindow& WindowFor(const std::string& op);
  // What `flag`'s budget and gates are judged on since `since`: its own telemetry, or, for a
  // write op, that of the reads of its domain — writes are never shadow-read, so the
  // consistency of what they write shows only where it is read.
  SliCounts Evidence(const flags::Flag& flag, const std::vector<flags::Flag>& all,
                     absl::Time since);
  absl::Status Apply(const flags::Flag& flag, const BreakerStep& step, const std::string& actor);

  flags::FlagStore& flags_;
  migrations::PlanStore& plans_;
  std::unique_ptr<BreakerStore> breakers_;
  const base::Clock& clock_;
  BudgetControllerOptions options_;
  OnFreeze on_freeze_;
  OnRecover on_recover_;
  std::map<std::string, SliWindow> windows_;
  std::map<std::string, migrations::Budget> op_budgets_;  // from the plans
  std::map<flags::OpClass, migrations::Budget> class_budgets_;
  std::set<std::string> write_ops_;  // ops the plans declare `kind: write`
  migrations::Budget default_budget_;
  absl::Time budgets_loaded_ = absl::InfinitePast();
  std::optional<absl::Duration> lag_p99_;
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BUDGET_BUDGET_CONTROLLER_H_
