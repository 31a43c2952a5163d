#include "migrations/plan.h"

#include <algorithm>
#include <array>

#include "base/strings.h"
#include "base/units.h"

namespace cmo::migrations {

absl::Duration Phase::ExpectedDuration() const {
  absl::Duration total = absl::ZeroDuration();
  for (const Step& s : steps) total += s.hold;
  return total;
}

absl::Duration Phase::RollbackWindow() const {
  if (!rollback.keep_is_factor) return rollback.keep_possible_for;
  return ExpectedDuration() * rollback.keep_possible_factor;
}

const PlanOp* Plan::FindOp(std::string_view op) const {
  for (const PlanOp& o : ops) {
    if (o.op == op) return &o;
  }
  return nullptr;
}

const Phase* Plan::PhaseOf(std::string_view op) const {
  for (const Phase& p : phases) {
    for (const std::string& o : p.ops) {
      if (o == op) return &p;
    }
  }
  return nullptr;
}

const Budget* Plan::BudgetFor(const PlanOp& op) const {
  for (const Budget& b : budgets) {
    if (!op.budget.empty() ? b.name == op.budget : b.default_for_class == op.op_class) return &b;
  }
  return nullptr;
}

namespace {
constexpr std::array<std::string_view, 7> kMetricNames = {
    "stale_read_ratio", "divergence_ratio", "replication_lag_p99", "session_violations",
    "fallback_ratio",   "shadow_samples",   "telemetry_windows"};
}  // namespace

std::string_view MetricName(Metric m) { return kMetricNames[static_cast<size_t>(m)]; }

MetricUnit UnitOf(Metric m) {
  switch (m) {
    case Metric::kReplicationLagP99:
      return MetricUnit::kDuration;
    case Metric::kSessionViolations:
    case Metric::kShadowSamples:
    case Metric::kTelemetryWindows:
      return MetricUnit::kCount;
    default:
      return MetricUnit::kRatio;
  }
}

std::string_view ComparisonText(Comparison c) {
  switch (c) {
    case Comparison::kLess:
      return "<";
    case Comparison::kLessEqual:
      return "<=";
    case Comparison::kGreater:
      return ">";
    case Comparison::kGreaterEqual:
      return ">=";
    case Comparison::kEqual:
      return "==";
  }
  return "?";
}

bool Compare(int64_t measured, Comparison c, int64_t bound) {
  switch (c) {
    case Comparison::kLess:
      return measured < bound;
    case Comparison::kLessEqual:
      return measured <= bound;
    case Comparison::kGreater:
      return measured > bound;
    case Comparison::kGreaterEqual:
      return measured >= bound;
    case Comparison::kEqual:
      return measured == bound;
  }
  return false;
}

std::string FormatMetricValue(Metric m, int64_t value) {
  switch (UnitOf(m)) {
    case MetricUnit::kRatio:
      return base::FormatPpm(value);
    case MetricUnit::kDuration:
      return base::FormatDuration(absl::Milliseconds(value));
    case MetricUnit::kCount:
      return base::StrCat(value);
  }
  return "?";
}

std::string_view OpKindName(OpKind k) { return k == OpKind::kWrite ? "write" : "read"; }

std::string_view BreachActionName(BreachAction a) {
  return a == BreachAction::kFreeze ? "freeze" : "rollback";
}

std::string DescribeStep(const Step& s) {
  std::string out(flags::StageName(s.stage));
  if (s.stage == flags::Stage::kRamp) out += base::StrCat(" ", base::FormatBp(s.ramp_bp));
  if (s.stage == flags::Stage::kShadow && s.sample_bp.has_value()) {
    out += base::StrCat(" ", base::FormatBp(*s.sample_bp));
  }
  if (s.hold > absl::ZeroDuration()) out += base::StrCat(" hold ", base::FormatDuration(s.hold));
  return out;
}

flags::Tier ToFlagsTier(const Plan& plan, const Tier& tier) {
  flags::Tier t;
  t.plan = plan.name;
  t.name = tier.name;
  t.target = tier.target;
  t.join_at = tier.join_at;
  for (const PlanOp& o : plan.ops) {
    if (std::find(o.tiers.begin(), o.tiers.end(), tier.name) != o.tiers.end()) {
      t.ops.push_back(o.op);
    }
  }
  t.subjects = tier.subjects;
  t.when = tier.when;
  t.top_k = tier.top_k;
  t.top_k_window = tier.top_k_window;
  t.priority = tier.priority;
  return t;
}

std::vector<flags::Amplifier> FlagsAmplifiers(const Plan& plan) {
  std::vector<flags::Amplifier> out;
  for (const PlanOp& o : plan.ops) {
    if (!o.amplify_when.empty()) out.push_back({plan.name, o.op, o.amplify_when, o.amplify_window});
  }
  return out;
}

}  // namespace cmo::migrations
