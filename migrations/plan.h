// The model of a migration plan: what a plan file (migrations/*.yaml) declares once parsed.
// Field meanings, defaults and units: migrations/README.md.
#ifndef CMO_MIGRATIONS_PLAN_H_
#define CMO_MIGRATIONS_PLAN_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "flags/amplifier.h"
#include "flags/flag.h"
#include "flags/tier.h"

namespace cmo::migrations {

// Where something was declared in the plan file (1-based), for error messages.
struct Position {
  int line = 0;
  int column = 0;
};

enum class OpKind { kRead, kWrite };
enum class BreachAction { kRollback, kFreeze };

// The SLIs a gate or a budget can name. Ratios are kept in parts per million (1% = 10000 ppm)
// because budgets go well below the 0.01% resolution of basis points.
enum class Metric {
  kStaleReadRatio,
  kDivergenceRatio,
  kReplicationLagP99,
  kSessionViolations,
  kFallbackRatio,
  kShadowSamples,
  kTelemetryWindows,  // clients' telemetry windows in the short window: is anyone watching?
};
enum class MetricUnit { kRatio, kDuration, kCount };

enum class Comparison { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual };

// `divergence_ratio < 0.1%`, `replication_lag_p99 <= 2s`, `session_violations == 0`, `manual`.
// Values are normalised: ratios in parts per million, durations in ms, counts as is.
struct Gate {
  bool manual = false;
  Metric metric = Metric::kStaleReadRatio;
  Comparison comparison = Comparison::kLess;
  int64_t value = 0;
  std::string text;  // as written, for status output
  Position pos;
};

struct Step {
  flags::Stage stage = flags::Stage::kDualWrite;  // dual_write, shadow, ramp or eventual
  int32_t ramp_bp = 0;                            // ramp: the `to` percent
  std::optional<int32_t> sample_bp;               // shadow: the sample rate
  absl::Duration hold = absl::ZeroDuration();     // gates must hold this long before the next step
  std::vector<Gate> gates;
  Position pos;
};

struct RollbackPolicy {
  BreachAction on_breach = BreachAction::kRollback;
  flags::Stage to = flags::Stage::kShadow;  // where a breach rolls the phase's ops back to
  // How long after the phase completes rollback must stay possible (dual-write kept on).
  absl::Duration keep_possible_for = absl::ZeroDuration();
  double keep_possible_factor = 2.0;  // used when keep_possible_for is written "2x"
  bool keep_is_factor = true;
  // When a tripped breaker closes again: false (`resume`) moves the op back to the step before
  // the one that tripped and lets the plan climb again; true (`wait`) pauses it for an operator.
  bool wait_after_recovery = false;
};

struct Phase {
  std::string name;
  std::vector<std::string> ops;
  std::vector<std::string> regions;  // empty: every region
  std::vector<Step> steps;
  RollbackPolicy rollback;
  // A step that gives an op more eventual share waits for live telemetry from a client of the
  // op (no evidence is not health). `require_telemetry: false` lets it move unwatched.
  bool require_telemetry = true;
  Position pos;

  // Sum of the step holds: how long the phase takes at best.
  absl::Duration ExpectedDuration() const;
  // keep_possible_for, resolving a factor against ExpectedDuration().
  absl::Duration RollbackWindow() const;
};

struct Budget {
  std::string name;
  std::optional<flags::OpClass> default_for_class;
  int64_t max_stale_read_ratio_ppm = 10'000;  // 1%
  int64_t max_divergence_ratio_ppm = 100;     // 0.01%
  absl::Duration max_replication_lag_p99 = absl::Seconds(5);
  int64_t max_session_violations = 0;
  int64_t max_fallback_ratio_ppm = 50'000;  // 5%
  absl::Duration short_window = absl::Minutes(5);
  absl::Duration long_window = absl::Hours(1);
  int64_t min_samples = 1000;
  BreachAction on_breach = BreachAction::kRollback;
  Position pos;
};

// A plan's subject tier (flags/tier.h): who is in it, and what they get.
struct Tier {
  std::string name;
  std::vector<std::string> subjects;
  std::vector<std::string> when;  // rules over the request's evaluation context (any of)
  int32_t top_k = 0;              // 0: no automatic heaviest-writer members
  absl::Duration top_k_window = absl::Minutes(10);
  flags::Target target;  // what these subjects get instead of the op's target
  flags::Stage join_at = flags::Stage::kEventual;  // strong for them until their ops reach this
  bool priority = false;  // their writes take the priority replication channel
  Position pos;
};

struct PlanOp {
  std::string op;
  OpKind kind = OpKind::kRead;
  std::string domain;
  flags::OpClass op_class = flags::OpClass::kStandard;
  flags::Target target;
  std::string budget;  // empty: the class default budget
  std::vector<std::string> tiers;
  // A write op's amplification guard (flags/amplifier.h): `when` empty = none.
  std::string amplify_when;
  absl::Duration amplify_window = absl::Seconds(30);
  Position amplify_pos;
  Position pos;
};

struct Region {
  std::string name;
  Position pos;
};

// A domain a plan describes; with `source`, the app's own table that change data capture
// follows (shadow/cdc_relay.h): `domains: [{name: comments, source: {table: public.comments,
// key: [id], subject: author_id}}]`.
struct DomainSource {
  std::string table;             // schema.table
  std::vector<std::string> key;  // its primary key (replica identity) columns
  std::string subject;           // optional: the column naming the row's user
};
struct Domain {
  std::string name;
  bool has_source = false;
  DomainSource source;
  Position pos;
};

// When `cmo serve` reconciles every domain against every local replica, and how it heals.
struct Reconciliation {
  absl::Duration every = absl::ZeroDuration();  // zero: not scheduled (run it by hand)
  int64_t max_rows_per_s = 0;                   // 0: unthrottled
  std::string default_policy = "primary_wins";
  std::map<std::string, std::string> policies;  // domain -> primary_wins|last_writer_wins|merge
  Position pos;
};

struct Plan {
  int version = 1;
  std::string name;
  std::string description;
  std::vector<Region> regions;
  std::vector<Budget> budgets;
  std::vector<Tier> tiers;
  std::vector<Domain> domains;
  std::vector<PlanOp> ops;
  std::vector<Phase> phases;
  Reconciliation reconciliation;

  const PlanOp* FindOp(std::string_view op) const;
  const Phase* PhaseOf(std::string_view op) const;
  // The budget an op answers to: its own, else its class default; nullptr if none.
  const Budget* BudgetFor(const PlanOp& op) const;
};

// The tier as the flag store keeps it: with the ops of `plan` that list it.
flags::Tier ToFlagsTier(const Plan& plan, const Tier& tier);
// The plan's amplification guards as the flag store keeps them.
std::vector<flags::Amplifier> FlagsAmplifiers(const Plan& plan);

std::string_view MetricName(Metric m);
MetricUnit UnitOf(Metric m);
std::string_view ComparisonText(Comparison c);
bool Compare(int64_t measured, Comparison c, int64_t bound);
// A metric value in the units operators write: "0.12%", "1500ms", "42".
std::string FormatMetricValue(Metric m, int64_t value);
std::string_view OpKindName(OpKind k);
std::string_view BreachActionName(BreachAction a);
// One line per step: "ramp 10% hold 1h", "shadow 5%", "eventual".
std::string DescribeStep(const Step& step);

}  // namespace cmo::migrations

#endif  // CMO_MIGRATIONS_PLAN_H_
