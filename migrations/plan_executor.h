// Carries out applied plans: starts phases in order, applies each step to the op's flag, and
// moves to the next step only after every gate of the current step has held for its hold
// time. Progress and hold clocks are persisted with every change, so a restarted executor
// resumes at the same step with the same clocks.
//
//   apply ──► step -1 (phase waiting) ──► step 0 ──► ... ──► last step (done)
//                                 │ gates hold for `hold` │
//   pause/resume at any step; a flag changed outside the plan (cmo rollback) pauses the op;
//   a breaker that is not closed freezes it.
#ifndef CMO_MIGRATIONS_PLAN_EXECUTOR_H_
#define CMO_MIGRATIONS_PLAN_EXECUTOR_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "flags/flag_store.h"
#include "migrations/gate.h"
#include "migrations/plan.h"
#include "migrations/plan_store.h"

namespace cmo::migrations {

struct ApplyResult {
  bool unchanged = false;               // same content already applied: nothing done
  std::vector<std::string> registered;  // ops added to the flag store
  std::vector<std::string> replanned;   // mid-migration ops whose plan changed (--force)
};

struct GateStatus {
  std::string condition;
  std::string measured;  // in the gate's units; "no data" when nothing recent was measured
  bool holds = false;
  // "pass", "fail", or "inconclusive": no fresh measurement with enough samples behind it (a
  // gate never passes on missing evidence; the Argo Rollouts word).
  std::string verdict;
};

struct OpStatus {
  OpProgress progress;
  flags::Flag flag;
  int steps = 0;
  std::string step;   // description of the current step, "" before the phase starts
  std::string state;  // "waiting for phase X", "holding", "gates not met", "paused: ...", ...
  std::vector<GateStatus> gates;
  absl::Duration in_step = absl::ZeroDuration();
  absl::Duration held_for = absl::ZeroDuration();
  absl::Duration hold = absl::ZeroDuration();
};

struct TickEvent {
  std::string op;
  std::string what;
};

// Not thread-safe: one executor per process, on the thread that owns the stores.
class PlanExecutor {
 public:
  PlanExecutor(flags::FlagStore& flags, PlanStore& plans, MetricSource& metrics,
               const base::Clock& clock)
      : flags_(flags), plans_(plans), metrics_(metrics), clock_(clock) {}

  // Registers `plan` (already validated) with the ops it declares. Idempotent for unchanged
  // content. Changing the plan of an op that is mid-migration needs `force` (audited).
  absl::StatusOr<ApplyResult> Apply(const Plan& plan, const std::string& file,
                                    const std::string& content, const flags::ChangeContext& ctx,
                                    bool force);

  // One evaluation of every plan: starts phases, advances steps whose gates held long enough.
  // Must be idempotent: a crash between two ticks (or inside one) repeats no step.
  absl::StatusOr<std::vector<TickEvent>> Tick();

  absl::StatusOr<std::vector<OpStatus>> Status();

  // Pauses or resumes one op (or every plan-managed op when `op` is empty). Resume realigns
  // the op's step with its flag if an operator moved the flag meanwhile.
  absl::StatusOr<std::vector<std::string>> SetPaused(std::string_view op, bool paused,
                                                     const flags::ChangeContext& ctx);

  // Approves the manual gates of op's current step (`cmo advance` on a plan-managed op).
  absl::StatusOr<std::string> Approve(std::string_view op, const flags::ChangeContext& ctx);

  // A tripped breaker of `op` closed again. Per the op's phase (`rollback.after_recovery`):
  // resume at the step before the current one (the one that tripped), or pause for an
  // operator. Returns what was done ("" when the op is not driven by a plan).
  absl::StatusOr<std::string> AfterBreakerRecovery(std::string_view op);

  // Whether `op` is driven by a plan.
  absl::StatusOr<bool> Manages(std::string_view op);

 private:
  struct Loaded {
    std::vector<Plan> plans;
  };
  absl::StatusOr<Loaded> LoadPlans();
  absl::Status StartStep(const Plan& plan, const Phase& phase, OpProgress& progress, int step,
                         std::string reason, std::vector<TickEvent>& events);
  absl::Status Pause(OpProgress& progress, std::string reason, const flags::ChangeContext& ctx);
  std::vector<GateStatus> EvaluateGates(const Step& step, const OpProgress& progress,
                                        bool* all_hold);
  // Adds an event when the op's gates (`gates`; null: all hold) start to fail or lack data,
  // or change which do: what operators are notified of (the `plan` webhook event).
  void NoteWaiting(const Phase& phase, const OpProgress& progress,
                   const std::vector<GateStatus>* gates, std::vector<TickEvent>& events);
  // Whether op's move from `step` to the next waits for live telemetry: the next step gives
  // more eventual share, the phase requires telemetry, and no client of op reported lately.
  bool NeedsTelemetry(const Phase& phase, int step, const std::string& op);

  flags::FlagStore& flags_;
  PlanStore& plans_;
  MetricSource& metrics_;
  const base::Clock& clock_;
  std::map<std::string, std::string> waiting_;  // op -> the gate verdicts last reported
};

// Sets a flag to what a plan step prescribes (stage, ramp percent, shadow sample rate).
void ApplyStepToFlag(const Step& step, flags::Flag& flag);
bool FlagMatchesStep(const flags::Flag& flag, const Step& step);
// The last step at or below the flag's current position; -1 if the flag is before step 0.
int AlignedStep(const Phase& phase, const flags::Flag& flag);

}  // namespace cmo::migrations

#endif  // CMO_MIGRATIONS_PLAN_EXECUTOR_H_
