#include "migrations/plan_executor.h"

#include <xxhash.h>

#include <cstdio>
#include <map>

#include "base/status_macros.h"
#include "base/strings.h"
#include "base/units.h"
#include "flags/tier_store.h"
#include "flags/transitions.h"
#include "migrations/plan_parser.h"

namespace cmo::migrations {
namespace {

using base::StrCat;

std::string Digest(const std::string& content) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(content.data(), content.size())));
  return hex;
}

// Position along the migration, comparable between a step and a flag.
std::pair<int, int32_t> Rank(flags::Stage stage, int32_t ramp_bp) {
  const bool ramped = stage == flags::Stage::kRamp || stage == flags::Stage::kEventual;
  return {static_cast<int>(stage), ramped ? ramp_bp : 0};
}

// A canonical text of a phase's steps: two plans move an op the same way iff they are equal.
std::string PhaseShape(const Phase& p) {
  std::string out;
  for (const Step& s : p.steps) {
    out += DescribeStep(s);
    for (const Gate& g : s.gates) out += StrCat("|", g.text);
    out += ";";
  }
  return out;
}

bool HasManualGate(const Step& s) {
  for (const Gate& g : s.gates) {
    if (g.manual) return true;
  }
  return false;
}

flags::ChangeContext PlanContext(const std::string& plan, std::string action, std::string reason) {
  return {StrCat("plan:", plan), std::move(reason), std::move(action), false};
}

}  // namespace

void ApplyStepToFlag(const Step& step, flags::Flag& flag) {
  flag.stage = step.stage;
  flag.ramp_bp = Rank(step.stage, step.ramp_bp).second;
  if (step.sample_bp.has_value()) {
    flag.shadow_bp = *step.sample_bp;
  } else if (step.stage == flags::Stage::kShadow && flag.shadow_bp == 0) {
    flag.shadow_bp = flags::kDefaultShadowSampleBp;
  }
}

bool FlagMatchesStep(const flags::Flag& flag, const Step& step) {
  return Rank(flag.stage, flag.ramp_bp) == Rank(step.stage, step.ramp_bp);
}

int AlignedStep(const Phase& phase, const flags::Flag& flag) {
  int aligned = -1;
  for (size_t i = 0; i < phase.steps.size(); ++i) {
    const Step& s = phase.steps[i];
    if (Rank(s.stage, s.ramp_bp) <= Rank(flag.stage, flag.ramp_bp)) aligned = static_cast<int>(i);
  }
  return aligned;
}

absl::StatusOr<PlanExecutor::Loaded> PlanExecutor::LoadPlans() {
  Loaded loaded;
  CMO_ASSIGN_OR_RETURN(std::vector<StoredPlan> stored, plans_.Plans());
  for (const StoredPlan& sp : stored) {
    ParseResult r = ParsePlan(sp.content);
    if (!r.ok()) {
      return absl::DataLossError(StrCat("stored plan ", sp.name, " no longer parses (",
                                        r.errors[0].message, "); re-apply it with --force"));
    }
    loaded.plans.push_back(std::move(r.plan));
  }
  return loaded;
}

absl::StatusOr<bool> PlanExecutor::Manages(std::string_view op) {
  CMO_ASSIGN_OR_RETURN(std::optional<OpProgress> p, plans_.Progress(op));
  return p.has_value();
}

absl::StatusOr<ApplyResult> PlanExecutor::Apply(const Plan& plan, const std::string& file,
                                                const std::string& content,
                                                const flags::ChangeContext& ctx, bool force) {
  ApplyResult result;
  const std::string digest = Digest(content);
  CMO_ASSIGN_OR_RETURN(std::optional<StoredPlan> existing, plans_.GetPlan(plan.name));
  if (existing.has_value() && existing->digest == digest) {
    result.unchanged = true;
    return result;
  }
  std::optional<Plan> old_plan;
  if (existing.has_value()) {
    ParseResult r = ParsePlan(existing->content);
    if (r.ok()) old_plan = std::move(r.plan);
  }
  // Check everything before changing anything, so a refused apply leaves no trace.
  std::vector<std::string> needs_force;
  CMO_ASSIGN_OR_RETURN(std::vector<OpProgress> all_progress, plans_.AllProgress());
  for (const OpProgress& p : all_progress) {
    if (p.step < 0) continue;
    const bool ours = p.plan == plan.name;
    const Phase* now = plan.PhaseOf(p.op);
    const Phase* before = ours && old_plan.has_value() ? old_plan->PhaseOf(p.op) : nullptr;
    if (ours && (now == nullptr || before == nullptr || PhaseShape(*now) != PhaseShape(*before))) {
      needs_force.push_back(p.op);
    } else if (!ours && now != nullptr) {
      needs_force.push_back(p.op);
    }
  }
  for (const PlanOp& o : plan.ops) {
    auto f = flags_.Get(o.op);
    if (!f.ok()) continue;
    const bool reconfigured =
        f->domain != o.domain || f->op_class != o.op_class || !(f->target == o.target);
    if (reconfigured && f->stage != flags::Stage::kStrong &&
        std::find(needs_force.begin(), needs_force.end(), o.op) == needs_force.end()) {
      needs_force.push_back(o.op);
    }
  }
  if (!needs_force.empty() && !force) {
    return absl::InvalidArgumentError(
        StrCat("plan ", plan.name, " changes how ", base::StrJoin(needs_force, ", "),
               needs_force.size() == 1 ? " migrates while it is" : " migrate while they are",
               " mid-migration; check `cmo plan status`, then re-run with --force (audited)"));
  }

  for (const PlanOp& o : plan.ops) {
    flags::Flag want;
    want.op = o.op;
    want.domain = o.domain;
    want.op_class = o.op_class;
    want.target = o.target;
    auto f = flags_.Get(o.op);
    if (!f.ok()) {
      CMO_RETURN_IF_ERROR(flags_.Add(want, PlanContext(plan.name, "add", ctx.reason)).status());
      result.registered.push_back(o.op);
      continue;
    }
    CMO_RETURN_IF_ERROR(flags_
                            .Update(o.op, PlanContext(plan.name, "plan.reconfigure", ctx.reason),
                                    [&](flags::Flag& g) {
                                      g.domain = o.domain;
                                      g.op_class = o.op_class;
                                      g.target = o.target;
                                      return absl::OkStatus();
                                    })
                            .status());
  }
  const absl::Time now = clock_.Now();
  for (const OpProgress& p : all_progress) {  // ops this plan no longer moves
    if (p.plan == plan.name && plan.PhaseOf(p.op) == nullptr) {
      CMO_RETURN_IF_ERROR(plans_.DeleteProgress(p.op));
    }
  }
  for (const Phase& phase : plan.phases) {
    for (const std::string& op : phase.ops) {
      CMO_ASSIGN_OR_RETURN(std::optional<OpProgress> current, plans_.Progress(op));
      const bool keep = current.has_value() && current->plan == plan.name &&
                        std::find(needs_force.begin(), needs_force.end(), op) == needs_force.end();
      if (keep) continue;
      CMO_ASSIGN_OR_RETURN(flags::Flag flag, flags_.Get(op));
      OpProgress p;
      p.op = op;
      p.plan = plan.name;
      p.phase = phase.name;
      p.step = AlignedStep(phase, flag);  // an op already moved by hand is not moved back
      p.step_started = now;
      CMO_RETURN_IF_ERROR(plans_.PutProgress(p));
      if (current.has_value() && current->step >= 0) result.replanned.push_back(op);
    }
  }
  // Before the plan is recorded: a crash in between leaves the digest unrecorded, so applying
  // the file again redoes this.
  std::vector<flags::Tier> tiers;
  for (const Tier& t : plan.tiers) tiers.push_back(ToFlagsTier(plan, t));
  CMO_RETURN_IF_ERROR(flags::ReplaceTiers(flags_, plan.name, std::move(tiers),
                                          PlanContext(plan.name, "plan.tiers", ctx.reason))
                          .status());
  CMO_RETURN_IF_ERROR(flags::ReplaceAmplifiers(flags_, plan.name, FlagsAmplifiers(plan),
                                               PlanContext(plan.name, "plan.amplify", ctx.reason))
                          .status());
  CMO_RETURN_IF_ERROR(plans_.PutPlan({plan.name, file, content, digest, now}));
  flags::ChangeContext event = ctx;
  event.action =
      existing.has_value() ? (force ? "plan.replace.forced" : "plan.replace") : "plan.apply";
  CMO_RETURN_IF_ERROR(
      flags_
          .RecordEvent(StrCat("plan:", plan.name), event,
                       existing.has_value() ? nlohmann::json{{"digest", existing->digest}}
                                            : nlohmann::json(),
                       {{"digest", digest}, {"file", file}, {"replanned", result.replanned}})
          .status());
  return result;
}

absl::Status PlanExecutor::StartStep(const Plan& plan, const Phase& phase, OpProgress& progress,
                                     int step, std::string reason, std::vector<TickEvent>& events) {
  const Step& s = phase.steps[static_cast<size_t>(step)];
  OpProgress next = progress;
  next.step = step;
  next.step_started = clock_.Now();
  next.held_since.reset();
  if (s.gates.empty()) next.held_since = next.step_started;  // only the hold to wait out
  next.manual_approved = false;
  const std::string what = StrCat("phase ", phase.name, " step ", step + 1, "/", phase.steps.size(),
                                  ": ", DescribeStep(s));
  CMO_RETURN_IF_ERROR(flags_
                          .Update(
                              progress.op,
                              PlanContext(plan.name, "plan.step", StrCat(what, "; ", reason)),
                              [&](flags::Flag& f) {
                                ApplyStepToFlag(s, f);
                                return absl::OkStatus();
                              },
                              [&](const flags::Change&) { return plans_.PutProgress(next); })
                          .status());
  progress = next;
  events.push_back({progress.op, what});
  return absl::OkStatus();
}

absl::Status PlanExecutor::Pause(OpProgress& progress, std::string reason,
                                 const flags::ChangeContext& ctx) {
  const nlohmann::json before = ProgressToJson(progress);
  progress.paused = true;
  progress.pause_reason = std::move(reason);
  CMO_RETURN_IF_ERROR(plans_.PutProgress(progress));
  flags::ChangeContext c = ctx;
  c.action = "plan.pause";
  if (c.reason.empty()) c.reason = progress.pause_reason;
  return flags_.RecordEvent(progress.op, c, before, ProgressToJson(progress)).status();
}

std::vector<GateStatus> PlanExecutor::EvaluateGates(const Step& step, const OpProgress& progress,
                                                    bool* all_hold) {
  std::vector<GateStatus> out;
  *all_hold = true;
  for (const Gate& g : step.gates) {
    const GateResult r = EvaluateGate(g, progress.op, metrics_, progress.manual_approved);
    std::string measured;
    if (g.manual) {
      measured = progress.manual_approved ? "approved" : "not approved";
    } else {
      measured = r.measured.has_value() ? FormatMetricValue(g.metric, *r.measured) : "no data";
    }
    const bool inconclusive = !g.manual && !r.measured.has_value();
    out.push_back({g.text, measured, r.holds,
                   r.holds        ? "pass"
                   : inconclusive ? "inconclusive"
                                  : "fail"});
    *all_hold = *all_hold && r.holds;
  }
  return out;
}

namespace {

int32_t StepEventualBp(const Step& s) {
  if (s.stage == flags::Stage::kRamp) return s.ramp_bp;
  return s.stage == flags::Stage::kEventual ? base::kMaxBasisPoints : 0;
}

// Why gates that do not all hold keep the op where it is, for `cmo plan status`.
std::string WhyGatesWait(const std::vector<GateStatus>& gates) {
  std::vector<std::string> failing, inconclusive;
  for (const GateStatus& g : gates) {
    if (g.verdict == "fail") failing.push_back(StrCat(g.condition, " (", g.measured, ")"));
    if (g.verdict == "inconclusive") inconclusive.push_back(g.condition);
  }
  std::string out;
  if (!failing.empty()) out = StrCat("gates not met: ", base::StrJoin(failing, ", "));
  if (!inconclusive.empty()) {
    out += StrCat(out.empty() ? "" : "; ", "inconclusive (no fresh data with enough samples): ",
                  base::StrJoin(inconclusive, ", "));
  }
  return out.empty() ? "gates not met" : out;
}

}  // namespace

void PlanExecutor::NoteWaiting(const Phase& phase, const OpProgress& progress,
                               const std::vector<GateStatus>* gates,
                               std::vector<TickEvent>& events) {
  if (gates == nullptr) {
    waiting_.erase(progress.op);
    return;
  }
  // Said once per change of which gates fail or lack data, not once per tick: the measured
  // values move every tick, the verdicts rarely.
  std::string verdicts = StrCat(progress.step, ":");
  for (const GateStatus& g : *gates) base::StrAppend(&verdicts, g.condition, "=", g.verdict, ";");
  std::string& last = waiting_[progress.op];
  if (last == verdicts) return;
  last = std::move(verdicts);
  events.push_back({progress.op, StrCat("phase ", phase.name, " step ", progress.step + 1, "/",
                                        phase.steps.size(), " waits: ", WhyGatesWait(*gates))});
}

bool PlanExecutor::NeedsTelemetry(const Phase& phase, int step, const std::string& op) {
  if (!phase.require_telemetry || step + 1 >= static_cast<int>(phase.steps.size())) return false;
  const Step& now = phase.steps[static_cast<size_t>(step)];
  const Step& next = phase.steps[static_cast<size_t>(step) + 1];
  if (StepEventualBp(next) <= StepEventualBp(now)) return false;
  return metrics_.Latest(op, Metric::kTelemetryWindows).value_or(0) <= 0;
}

absl::StatusOr<std::vector<TickEvent>> PlanExecutor::Tick() {
  std::vector<TickEvent> events;
  CMO_ASSIGN_OR_RETURN(Loaded loaded, LoadPlans());
  const absl::Time now = clock_.Now();
  for (const Plan& plan : loaded.plans) {
    bool earlier_phases_done = true;
    for (const Phase& phase : plan.phases) {
      if (!earlier_phases_done) break;
      bool phase_done = true;
      const int last = static_cast<int>(phase.steps.size()) - 1;
      for (const std::string& op : phase.ops) {
        CMO_ASSIGN_OR_RETURN(std::optional<OpProgress> found, plans_.Progress(op));
        if (!found.has_value() || found->plan != plan.name) continue;
        OpProgress& p = *found;
        CMO_ASSIGN_OR_RETURN(flags::Flag flag, flags_.Get(op));
        if (p.paused) {
          phase_done = phase_done && p.step == last;
          continue;
        }
        if (p.step < 0) {
          CMO_RETURN_IF_ERROR(StartStep(plan, phase, p, 0, "phase started", events));
          phase_done = phase_done && last == 0;
          continue;
        }
        const Step& step = phase.steps[static_cast<size_t>(p.step)];
        if (!FlagMatchesStep(flag, step)) {
          CMO_RETURN_IF_ERROR(
              Pause(p,
                    StrCat("flag changed outside the plan (now ", flags::StageName(flag.stage), " ",
                           base::FormatBp(flag.ramp_bp), ", step says ", DescribeStep(step),
                           "); `cmo resume ", op, "` continues from the matching step"),
                    PlanContext(plan.name, "plan.pause", "")));
          events.push_back({op, p.pause_reason});
          phase_done = false;
          continue;
        }
        if (p.step == last) continue;
        phase_done = false;
        if (flag.breaker != flags::BreakerState::kClosed) continue;  // frozen while tripped
        bool all_hold = false;
        const std::vector<GateStatus> gates = EvaluateGates(step, p, &all_hold);
        NoteWaiting(phase, p, all_hold ? nullptr : &gates, events);
        if (!all_hold) {
          if (p.held_since.has_value()) {
            p.held_since.reset();
            CMO_RETURN_IF_ERROR(plans_.PutProgress(p));
          }
          continue;
        }
        if (!p.held_since.has_value()) {
          p.held_since = now;
          CMO_RETURN_IF_ERROR(plans_.PutProgress(p));
        }
        // More traffic toward eventual only while someone is watching it.
        if (now - *p.held_since >= step.hold && !NeedsTelemetry(phase, p.step, op)) {
          CMO_RETURN_IF_ERROR(StartStep(
              plan, phase, p, p.step + 1,
              StrCat("gates held for ", base::HumanDuration(now - *p.held_since)), events));
          phase_done = phase_done && p.step == last;
        }
      }
      earlier_phases_done = phase_done;
    }
  }
  return events;
}

absl::StatusOr<std::vector<OpStatus>> PlanExecutor::Status() {
  std::vector<OpStatus> out;
  CMO_ASSIGN_OR_RETURN(Loaded loaded, LoadPlans());
  const absl::Time now = clock_.Now();
  for (const Plan& plan : loaded.plans) {
    std::string waiting_for;  // the first unfinished phase: later phases wait for it
    for (const Phase& phase : plan.phases) {
      bool phase_done = true;
      for (const std::string& op : phase.ops) {
        CMO_ASSIGN_OR_RETURN(std::optional<OpProgress> p, plans_.Progress(op));
        if (!p.has_value() || p->plan != plan.name) continue;
        OpStatus st;
        st.progress = *p;
        CMO_ASSIGN_OR_RETURN(st.flag, flags_.Get(op));
        st.steps = static_cast<int>(phase.steps.size());
        const bool done = p->step == st.steps - 1;
        phase_done = phase_done && done;
        if (p->step >= 0) {
          const Step& step = phase.steps[static_cast<size_t>(p->step)];
          st.step = DescribeStep(step);
          st.in_step = now - p->step_started;
          st.hold = step.hold;
          if (p->held_since.has_value()) st.held_for = now - *p->held_since;
          bool all_hold = false;
          if (!done) st.gates = EvaluateGates(step, *p, &all_hold);
          if (p->paused) {
            st.state = StrCat("paused: ", p->pause_reason);
          } else if (done) {
            st.state = "done";
          } else if (st.flag.breaker != flags::BreakerState::kClosed) {
            st.state = StrCat("frozen: breaker ", flags::BreakerStateName(st.flag.breaker));
          } else if (!all_hold) {
            st.state = WhyGatesWait(st.gates);
          } else if (st.held_for >= st.hold && NeedsTelemetry(phase, p->step, op)) {
            st.state = StrCat(
                "waiting for live telemetry: no client of ", op,
                " reported in the last minute, "
                "and the next step moves traffic toward eventual (no evidence is not health; "
                "`require_telemetry: false` in the phase, or `cmo pause` and move it by hand, "
                "to go on unwatched)");
          } else {
            st.state = StrCat("holding ", base::HumanDuration(st.held_for), " of ",
                              base::HumanDuration(st.hold));
          }
        } else {
          st.state = p->paused             ? StrCat("paused: ", p->pause_reason)
                     : waiting_for.empty() ? "starting"
                                           : StrCat("waiting for phase ", waiting_for);
        }
        out.push_back(std::move(st));
      }
      if (!phase_done && waiting_for.empty()) waiting_for = phase.name;
    }
  }
  return out;
}

absl::StatusOr<std::string> PlanExecutor::AfterBreakerRecovery(std::string_view op) {
  CMO_ASSIGN_OR_RETURN(std::optional<OpProgress> found, plans_.Progress(op));
  if (!found.has_value() || found->step < 0) return std::string();
  CMO_ASSIGN_OR_RETURN(Loaded loaded, LoadPlans());
  OpProgress& p = *found;
  for (const Plan& plan : loaded.plans) {
    const Phase* phase = plan.name == p.plan ? plan.PhaseOf(p.op) : nullptr;
    if (phase == nullptr) continue;
    if (phase->rollback.wait_after_recovery) {
      const std::string reason = StrCat("breaker recovered; phase ", phase->name,
                                        " waits for an operator: `cmo resume ", op, "`");
      CMO_RETURN_IF_ERROR(Pause(p, reason, PlanContext(plan.name, "plan.pause", reason)));
      return reason;
    }
    if (p.step == 0) return std::string("breaker recovered at the phase's first step");
    std::vector<TickEvent> events;
    const std::string reason =
        "breaker recovered: resuming at the step before the one that tripped";
    CMO_RETURN_IF_ERROR(StartStep(plan, *phase, p, p.step - 1, reason, events));
    return reason;
  }
  return std::string();
}

absl::StatusOr<std::vector<std::string>> PlanExecutor::SetPaused(std::string_view op, bool paused,
                                                                 const flags::ChangeContext& ctx) {
  CMO_ASSIGN_OR_RETURN(std::vector<OpProgress> all, plans_.AllProgress());
  CMO_ASSIGN_OR_RETURN(Loaded loaded, LoadPlans());
  std::vector<std::string> changed;
  bool found = false;
  for (OpProgress& p : all) {
    if (!op.empty() && p.op != op) continue;
    found = true;
    if (p.paused == paused) continue;
    if (paused) {
      CMO_RETURN_IF_ERROR(Pause(p, ctx.reason, ctx));
    } else {
      const nlohmann::json before = ProgressToJson(p);
      p.paused = false;
      p.pause_reason.clear();
      p.held_since.reset();  // gates must hold again for the full hold after a pause
      for (const Plan& plan : loaded.plans) {
        const Phase* phase = plan.name == p.plan ? plan.PhaseOf(p.op) : nullptr;
        if (phase == nullptr || p.step < 0) continue;
        CMO_ASSIGN_OR_RETURN(flags::Flag flag, flags_.Get(p.op));
        if (!FlagMatchesStep(flag, phase->steps[static_cast<size_t>(p.step)])) {
          p.step = AlignedStep(*phase, flag);
          p.step_started = clock_.Now();
        }
      }
      CMO_RETURN_IF_ERROR(plans_.PutProgress(p));
      flags::ChangeContext c = ctx;
      c.action = "plan.resume";
      CMO_RETURN_IF_ERROR(flags_.RecordEvent(p.op, c, before, ProgressToJson(p)).status());
    }
    changed.push_back(p.op);
  }
  if (!found) {
    return absl::NotFoundError(
        op.empty() ? std::string("no op is driven by a plan; apply one with `cmo plan apply`")
                   : StrCat("op ", op, " is not driven by a plan; see `cmo plan status`"));
  }
  return changed;
}

absl::StatusOr<std::string> PlanExecutor::Approve(std::string_view op,
                                                  const flags::ChangeContext& ctx) {
  CMO_ASSIGN_OR_RETURN(std::optional<OpProgress> p, plans_.Progress(op));
  if (!p.has_value()) return absl::NotFoundError(StrCat("op ", op, " is not driven by a plan"));
  CMO_ASSIGN_OR_RETURN(Loaded loaded, LoadPlans());
  const Phase* phase = nullptr;
  for (const Plan& plan : loaded.plans) {
    if (plan.name == p->plan) phase = plan.PhaseOf(op);
  }
  if (phase == nullptr || p->step < 0) {
    return absl::InvalidArgumentError(
        StrCat("op ", op, "'s phase has not started yet; see `cmo plan status`"));
  }
  const Step& step = phase->steps[static_cast<size_t>(p->step)];
  if (!HasManualGate(step)) {
    return absl::InvalidArgumentError(StrCat(
        "op ", op, " is driven by plan ", p->plan, " and its current step (", DescribeStep(step),
        ") has no manual gate: it advances by itself when its gates hold; ",
        "use `cmo pause` or `cmo rollback` to intervene"));
  }
  if (p->manual_approved) return std::string("already approved");
  const nlohmann::json before = ProgressToJson(*p);
  p->manual_approved = true;
  CMO_RETURN_IF_ERROR(plans_.PutProgress(*p));
  flags::ChangeContext c = ctx;
  c.action = "plan.approve";
  CMO_RETURN_IF_ERROR(flags_.RecordEvent(op, c, before, ProgressToJson(*p)).status());
  return StrCat("approved step ", p->step + 1, " (", DescribeStep(step),
                "); the plan advances when its other gates have held for ",
                base::HumanDuration(step.hold));
}

}  // namespace cmo::migrations
