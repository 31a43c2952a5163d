#include "orchestrator/budget/budget_controller.h"

#include "base/json.h"
#include "base/sqlite.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "migrations/plan_parser.h"

namespace cmo::orchestrator {

BudgetController::BudgetController(flags::FlagStore& flags, migrations::PlanStore& plans,
                                   std::unique_ptr<BreakerStore> breakers, const base::Clock& clock,
                                   BudgetControllerOptions options, OnFreeze on_freeze,
                                   OnRecover on_recover)
    : flags_(flags),
      plans_(plans),
      breakers_(std::move(breakers)),
      clock_(clock),
      options_(options),
      on_freeze_(std::move(on_freeze)),
      on_recover_(std::move(on_recover)) {}

absl::StatusOr<std::unique_ptr<BudgetController>> BudgetController::Create(
    flags::FlagStore& flags, migrations::PlanStore& plans, const base::Clock& clock,
    BudgetControllerOptions options, OnFreeze on_freeze, OnRecover on_recover) {
  CMO_ASSIGN_OR_RETURN(auto breakers, BreakerStore::Open(flags.db()));
  return std::unique_ptr<BudgetController>(
      new BudgetController(flags, plans, std::move(breakers), clock, options, std::move(on_freeze),
                           std::move(on_recover)));
}

absl::Status BudgetController::RefreshBudgets() {
  CMO_ASSIGN_OR_RETURN(std::vector<migrations::StoredPlan> stored, plans_.Plans());
  op_budgets_.clear();
  class_budgets_.clear();
  write_ops_.clear();
  for (const migrations::StoredPlan& sp : stored) {
    migrations::ParseResult parsed = migrations::ParsePlan(sp.content);
    if (!parsed.ok()) continue;  // validated when applied; a newer binary's format is skipped
    const migrations::Plan& plan = parsed.plan;
    for (const migrations::Budget& b : plan.budgets) {
      if (b.default_for_class.has_value()) class_budgets_[*b.default_for_class] = b;
    }
    for (const migrations::PlanOp& op : plan.ops) {
      if (op.kind == migrations::OpKind::kWrite) write_ops_.insert(op.op);
      for (const migrations::Budget& b : plan.budgets) {
        if (!op.budget.empty() && b.name == op.budget) op_budgets_[op.op] = b;
      }
    }
  }
  budgets_loaded_ = clock_.Now();
  return absl::OkStatus();
}

const migrations::Budget& BudgetController::BudgetFor(const flags::Flag& flag) const {
  if (auto it = op_budgets_.find(flag.op); it != op_budgets_.end()) return it->second;
  if (auto it = class_budgets_.find(flag.op_class); it != class_budgets_.end()) return it->second;
  return default_budget_;
}

SliWindow& BudgetController::WindowFor(const std::string& op) {
  auto it = windows_.find(op);
  if (it != windows_.end()) return it->second;
  // Buckets of 1/30 of the shortest window this controller may be asked about.
  const absl::Duration shortest =
      options_.short_window > absl::ZeroDuration() ? options_.short_window : absl::Seconds(30);
  const absl::Duration keep = std::max(options_.long_window, absl::Hours(1));
  return windows_.emplace(op, SliWindow(std::max(shortest / 30, absl::Milliseconds(10)), keep))
      .first->second;
}

SliCounts BudgetController::Evidence(const flags::Flag& flag, const std::vector<flags::Flag>& all,
                                     absl::Time since) {
  if (!write_ops_.contains(flag.op)) return WindowFor(flag.op).SumSince(since);
  SliCounts sum;
  for (const flags::Flag& reader : all) {
    if (reader.domain != flag.domain || write_ops_.contains(reader.op)) continue;
    sum += WindowFor(reader.op).SumSince(since);
  }
  return sum;
}

void BudgetController::Ingest(const shadow::TelemetryWindow& w) {
  for (const shadow::OpWindow& o : w.ops) WindowFor(o.op).Add(w.end, SliCounts::From(o));
}

absl::Status BudgetController::Apply(const flags::Flag& flag, const BreakerStep& step,
                                     const std::string& actor) {
  const flags::ChangeContext ctx{actor, step.next.reason, std::string(BreakerEventName(step.event)),
                                 false};
  if (flag.breaker == step.next.state) {
    // The flag does not change (a freeze, or a reset that clears one): audit first, then the
    // record — a crash in between repeats the transition (and its audit entry) after the
    // restart rather than leaving one nobody was told about.
    CMO_RETURN_IF_ERROR(
        flags_
            .RecordEvent(flag.op, ctx, {{"frozen", !step.next.frozen}},
                         {{"frozen", step.next.frozen}, {"reason", step.next.reason}})
            .status());
    CMO_RETURN_IF_ERROR(breakers_->Put(step.next));
    if (on_freeze_) CMO_RETURN_IF_ERROR(on_freeze_(flag.op, step.next.reason));
    return absl::OkStatus();
  }
  return flags_
      .Update(
          flag.op, ctx,
          [&](flags::Flag& f) {
            f.breaker = step.next.state;
            return absl::OkStatus();
          },
          [&](const flags::Change&) { return breakers_->Put(step.next); })
      .status();
}

absl::StatusOr<std::vector<Transition>> BudgetController::Evaluate() {
  const absl::Time now = clock_.Now();
  if (now - budgets_loaded_ >= options_.plan_refresh) CMO_RETURN_IF_ERROR(RefreshBudgets());
  CMO_ASSIGN_OR_RETURN(std::vector<flags::Flag> all, flags_.List());
  std::vector<Transition> out;
  for (const flags::Flag& flag : all) {
    if (flag.op_class == flags::OpClass::kCritical) continue;  // never leaves strong anyway
    CMO_ASSIGN_OR_RETURN(BreakerRecord record, breakers_->Get(flag.op));
    if (!flags::ShadowsInStage(flag.stage) && flag.stage != flags::Stage::kEventual &&
        record.state == flags::BreakerState::kClosed) {
      continue;
    }
    const migrations::Budget& budget = BudgetFor(flag);
    const absl::Duration short_w =
        options_.short_window > absl::ZeroDuration() ? options_.short_window : budget.short_window;
    const absl::Duration long_w =
        options_.long_window > absl::ZeroDuration() ? options_.long_window : budget.long_window;
    WindowFor(flag.op).Prune(now);
    LagReading lag;
    if (lag_p99_.has_value()) lag.short_p99_ms = absl::ToDoubleMilliseconds(*lag_p99_);
    // Evidence from before the breaker's last transition describes a state that is over (a
    // burst that was rolled back and repaired): windows start no earlier than that transition.
    const absl::Time floor = record.since;
    const SliCounts short_counts = Evidence(flag, all, std::max(now - short_w, floor));
    const BudgetStatus current = EvaluateBudget(
        budget, short_counts, Evidence(flag, all, std::max(now - long_w, floor)), lag);
    BudgetStatus probe;  // a half-open breaker is judged on what happened since it opened
    if (record.state == flags::BreakerState::kHalfOpen) {
      const SliCounts since = Evidence(flag, all, record.since);
      probe = EvaluateBudget(budget, since, since, lag);
    }
    nlohmann::json status = ToJson(current);
    status["short_window_ms"] = absl::ToInt64Milliseconds(short_w);
    status["long_window_ms"] = absl::ToInt64Milliseconds(long_w);
    status["budget"] = budget.name.empty() ? "default" : budget.name;
    // One commit (one fsync) for the op's status and gate metrics, ten times a second.
    CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(flags_.db()));
    CMO_RETURN_IF_ERROR(breakers_->PutStatus(flag.op, now, base::JsonText(status)));
    for (const SliReport& s : current.slis) {
      // Gates compare these; without enough data they stay missing (gates must not pass).
      if (!s.enough_data) continue;
      if (s.name == "stale_read_ratio") {
        CMO_RETURN_IF_ERROR(plans_.SetMetric(flag.op, migrations::Metric::kStaleReadRatio,
                                             std::llround(s.short_value), now));
      } else if (s.name == "divergence_ratio") {
        CMO_RETURN_IF_ERROR(plans_.SetMetric(flag.op, migrations::Metric::kDivergenceRatio,
                                             std::llround(s.short_value), now));
      } else if (s.name == "fallback_ratio") {
        CMO_RETURN_IF_ERROR(plans_.SetMetric(flag.op, migrations::Metric::kFallbackRatio,
                                             std::llround(s.short_value), now));
      } else if (s.name == "session_violations") {
        CMO_RETURN_IF_ERROR(plans_.SetMetric(flag.op, migrations::Metric::kSessionViolations,
                                             std::llround(s.short_value), now));
      }
    }
    // The gates on evidence volume and on lag: comparisons settled in the short window, and
    // the replication lag this process measures.
    if (short_counts.windows > 0) {
      CMO_RETURN_IF_ERROR(
          plans_.SetMetric(flag.op, migrations::Metric::kShadowSamples, short_counts.samples, now));
      CMO_RETURN_IF_ERROR(plans_.SetMetric(flag.op, migrations::Metric::kTelemetryWindows,
                                           short_counts.windows, now));
    }
    if (lag.short_p99_ms.has_value()) {
      CMO_RETURN_IF_ERROR(plans_.SetMetric(flag.op, migrations::Metric::kReplicationLagP99,
                                           std::llround(*lag.short_p99_ms), now));
    }
    CMO_RETURN_IF_ERROR(txn->Commit());
    const BreakerStep step =
        NextBreakerState(record, budget.on_breach, current, probe, now, options_.breaker);
    if (step.event == BreakerEvent::kNone) continue;
    CMO_RETURN_IF_ERROR(Apply(flag, step, "breaker"));
    if (step.event == BreakerEvent::kRecover && on_recover_) {
      CMO_RETURN_IF_ERROR(on_recover_(flag.op));
    }
    out.push_back({flag.op, step.event, step.next, now});
  }
  return out;
}

absl::StatusOr<Transition> BudgetController::Reset(std::string_view op,
                                                   const flags::ChangeContext& ctx) {
  CMO_ASSIGN_OR_RETURN(flags::Flag flag, flags_.Get(op));
  CMO_ASSIGN_OR_RETURN(BreakerRecord record, breakers_->Get(op));
  BreakerStep step{BreakerEvent::kRecover, record};
  step.next.state = flags::BreakerState::kClosed;
  step.next.frozen = false;
  step.next.trips = 0;
  step.next.cooldown = absl::ZeroDuration();
  step.next.since = clock_.Now();
  step.next.reason = base::StrCat("reset by ", ctx.actor, ": ", ctx.reason);
  CMO_RETURN_IF_ERROR(Apply(flag, step, ctx.actor));
  return Transition{flag.op, step.event, step.next, step.next.since};
}

}  // namespace cmo::orchestrator
