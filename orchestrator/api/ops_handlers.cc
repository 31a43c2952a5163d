// GET/POST /v1/ops, GET /v1/ops/{op}, POST /v1/ops/{op}/advance|ramp|rollback,
// GET /v1/ops/{op}/decide.
#include <optional>

#include "base/json.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/time_text.h"
#include "base/units.h"
#include "flags/flag_json.h"
#include "flags/snapshot.h"
#include "flags/transitions.h"
#include "orchestrator/api/internal/handlers.h"

namespace cmo::orchestrator::api_internal {
namespace {

// What a change does to routing: the share of the bucket space (hence of subjects) that
// switches path, and in which direction. Buckets are monotonic, so it is the difference.
nlohmann::json ChangeJson(const flags::Change& c) {
  const int32_t from = flags::EffectiveEventualBp(*c.before);
  const int32_t to = flags::EffectiveEventualBp(c.after);
  const std::string direction = to > from ? "to_eventual" : to < from ? "to_strong" : "none";
  // A dry run changes nothing; `would_change` says whether the real call would.
  return {{"op", c.after.op},
          {"dry_run", c.dry_run},
          {"changed", c.changed && !c.dry_run},
          {"would_change", c.changed},
          {"revision", c.revision},
          {"before", flags::FlagToJson(*c.before)},
          {"after", flags::FlagToJson(c.after)},
          {"moving_percent", flags::BpToPercent(to > from ? to - from : from - to)},
          {"direction", direction}};
}

// Applies `edit` to op's flag. A change that gives the op more eventual share than one step
// allows (MaxStepBp) is refused unless the call says `confirm: true`; a confirmed one says so
// in its audit entry.
absl::StatusOr<nlohmann::json> ApplyChange(const Context& c, const std::string& op,
                                           const char* action,
                                           absl::FunctionRef<absl::Status(flags::Flag&)> edit) {
  auto dry_run = BodyBool(c.call, "dry_run");
  if (!dry_run.ok()) return dry_run.status();
  auto confirm = BodyBool(c.call, "confirm");
  if (!confirm.ok()) return confirm.status();
  auto max_step = MaxStepBp(c);
  if (!max_step.ok()) return max_step.status();
  auto ctx = c.Audit(action, *dry_run);
  if (!ctx.ok()) return ctx.status();
  bool beyond = false;
  int32_t limit = 0;
  auto change = c.state.flags->Update(op, *ctx, [&](flags::Flag& f) -> absl::Status {
    const int32_t from = flags::StagedEventualBp(f);
    if (absl::Status s = edit(f); !s.ok()) return s;
    const int32_t to = flags::StagedEventualBp(f);
    limit = flags::StepLimitBp(from, *max_step);
    beyond = to > limit;
    if (beyond && !*confirm && !*dry_run) {
      return absl::FailedPreconditionError(base::StrCat(
          "op ", op, " would go from ", base::FormatBp(from), " to ", base::FormatBp(to),
          " eventual in one step; one command may take it to ", base::FormatBp(limit),
          max_step->has_value() ? base::StrCat(" (max_step ", base::FormatBp(**max_step), ")")
                                : " (the next standard percent of 1/5/10/25/50/100%)",
          ". Take smaller steps, or repeat with --confirm to move it anyway (audited)"));
    }
    return absl::OkStatus();
  });
  if (!change.ok()) return change.status();
  if (beyond && change->changed && !change->dry_run) {
    // The audit entry of the change itself carries the operator's reason; this one says that
    // the step limit was knowingly passed.
    auto note = c.state.flags->RecordEvent(
        op, {ctx->actor, ctx->reason, "step_limit.confirmed", false},
        {{"limit_percent", flags::BpToPercent(limit)}},
        {{"eventual_percent", flags::BpToPercent(flags::StagedEventualBp(change->after))}});
    if (!note.ok()) return note.status();
  }
  nlohmann::json out = ChangeJson(*change);
  out["step_limit_percent"] = flags::BpToPercent(limit);
  out["beyond_step_limit"] = beyond;
  out["needs_confirm"] = beyond && !*confirm;
  return out;
}

// A percent field ("10", "10%", "0.5%", or a number); nullopt when absent.
absl::StatusOr<std::optional<int32_t>> OptionalPercent(const ApiCall& call, const char* field) {
  if (!call.body.is_object() || !call.body.contains(field) || call.body[field].is_null()) {
    return std::optional<int32_t>();
  }
  const nlohmann::json& v = call.body[field];
  const std::string text = v.is_string() ? v.get<std::string>() : base::JsonText(v);
  auto bp = base::ParsePercentBp(text);
  if (!bp.ok()) {
    return absl::InvalidArgumentError(base::StrCat(field, ": ", bp.status().message()));
  }
  return std::optional<int32_t>(*bp);
}

// The evaluation context of a decide call: query parameters `context.NAME=VALUE`.
struct RequestContext {
  std::vector<std::pair<std::string, std::string>> owned;
  std::vector<flags::Attribute> attributes;  // into `owned`
  nlohmann::json json = nlohmann::json::object();
};

constexpr std::string_view kContextPrefix = "context.";
constexpr size_t kMaxContextAttributes = 64;

absl::StatusOr<RequestContext> DecideContext(const ApiCall& call) {
  RequestContext out;
  for (const auto& [name, value] : call.query) {
    if (!name.starts_with(kContextPrefix)) continue;
    if (name.size() == kContextPrefix.size()) {
      return absl::InvalidArgumentError("context: give NAME=VALUE (query context.NAME=VALUE)");
    }
    out.owned.emplace_back(name.substr(kContextPrefix.size()), value);
  }
  if (out.owned.size() > kMaxContextAttributes) {
    return absl::InvalidArgumentError(
        base::StrCat("context: at most ", kMaxContextAttributes, " attributes"));
  }
  for (const auto& [k, v] : out.owned) {
    out.attributes.push_back({k, v});
    out.json[k] = v;
  }
  return out;
}

// The tier rule that put the subject in its tier (the first that matches).
std::string MatchedRule(const flags::Tier& tier, flags::EvalContext context) {
  for (const std::string& w : tier.when) {
    absl::StatusOr<flags::TierRule> r = flags::ParseTierRule(w);
    if (r.ok() && flags::RuleMatches(*r, context)) return w;
  }
  return "";
}

std::string TierWhy(const flags::Decision& d, flags::EvalContext context) {
  const flags::Tier& t = *d.tier;
  std::string how;
  switch (d.tier_via) {
    case flags::TierVia::kList:
      how = "listed in its subjects";
      break;
    case flags::TierVia::kTopK:
      how = base::StrCat("one of the ", t.top_k, " heaviest writers of the last ",
                         base::HumanDuration(t.top_k_window));
      break;
    default:
      how = base::StrCat("its rule `", MatchedRule(t, context), "` matches");
      break;
  }
  std::string what = base::StrCat("gets ", flags::TargetName(t.target), " instead of ",
                                  flags::TargetName(d.flag->target));
  if (d.stage < t.join_at) {
    what = base::StrCat("held strong until the op reaches ", flags::StageName(t.join_at), " (now ",
                        flags::StageName(d.stage), "), then ", what);
  }
  return base::StrCat("in tier ", t.name, " of plan ", t.plan, " (", how, "): ", what);
}

nlohmann::json TierDecisionJson(const flags::Decision& d, flags::EvalContext context) {
  const flags::Tier& t = *d.tier;
  return {{"name", t.name},
          {"plan", t.plan},
          {"via", flags::TierViaName(d.tier_via)},
          {"rule", d.tier_via == flags::TierVia::kRule ? MatchedRule(t, context) : ""},
          {"target", flags::TargetName(t.target)},
          {"join_at", flags::StageName(t.join_at)},
          {"held_strong", d.stage < t.join_at}};
}

}  // namespace

std::string WhyPath(const flags::Flag& f, const flags::Decision& d) {
  if (f.op_class == flags::OpClass::kCritical) return "critical op: always strong";
  if (f.breaker == flags::BreakerState::kOpen) return "breaker open: op forced to strong";
  if (d.threshold_bp == 0) {
    return base::StrCat("stage ", flags::StageName(f.stage), " serves every read strong");
  }
  const std::string share = base::FormatBp(d.threshold_bp);
  const std::string breaker =
      f.breaker == flags::BreakerState::kHalfOpen ? " (breaker half-open: probe share)" : "";
  if (d.path == flags::Path::kEventual) {
    return base::StrCat("bucket ", d.bucket, " < threshold ", d.threshold_bp, ": inside the ",
                        share, " eventual share", breaker);
  }
  return base::StrCat("bucket ", d.bucket, " >= threshold ", d.threshold_bp, ": outside the ",
                      share, " eventual share", breaker);
}

absl::StatusOr<nlohmann::json> ListOps(const Context& c) {
  auto all = c.state.flags->List();
  if (!all.ok()) return all.status();
  nlohmann::json out = nlohmann::json::array();
  for (const flags::Flag& f : *all) out.push_back(flags::FlagToJson(f));
  return out;
}

absl::StatusOr<nlohmann::json> GetOp(const Context& c, const std::string& op) {
  auto f = c.state.flags->Get(op);
  if (!f.ok()) return f.status();
  return flags::FlagToJson(*f);
}

absl::StatusOr<flags::Flag> ParseNewOp(const ApiCall& call) {
  flags::Flag flag;
  auto op = BodyString(call, "op", true);
  auto domain = BodyString(call, "domain", true);
  auto op_class = BodyString(call, "class", false, "standard");
  auto target = BodyString(call, "target", true);
  auto salt = BodyString(call, "salt", false);
  for (const auto* s : {&op, &domain, &op_class, &target, &salt}) {
    if (!s->ok()) return s->status();
  }
  flag.op = *op;
  flag.domain = *domain;
  flag.salt = *salt;
  auto cls = flags::ParseOpClass(*op_class);
  if (!cls.ok()) return cls.status();
  flag.op_class = *cls;
  auto tgt = flags::ParseTarget(*target);
  if (!tgt.ok()) return tgt.status();
  flag.target = *tgt;
  CMO_RETURN_IF_ERROR(flags::ValidateFlag(flag));
  return flag;
}

absl::StatusOr<nlohmann::json> AddOp(const Context& c) {
  auto flag = ParseNewOp(c.call);
  if (!flag.ok()) return flag.status();
  auto reason = BodyString(c.call, "reason", false, "op registered");
  if (!reason.ok()) return reason.status();
  auto change = c.state.flags->Add(*flag, {c.call.actor, *reason, "add", false});
  if (!change.ok()) return change.status();
  return nlohmann::json{{"op", change->after.op},
                        {"revision", change->revision},
                        {"after", flags::FlagToJson(change->after)}};
}

absl::StatusOr<nlohmann::json> Advance(const Context& c, const std::string& op) {
  flags::AdvanceOptions advance;
  auto to = OptionalPercent(c.call, "to");
  if (!to.ok()) return to.status();
  auto sample = OptionalPercent(c.call, "sample");
  if (!sample.ok()) return sample.status();
  advance.ramp_to_bp = *to;
  advance.shadow_sample_bp = *sample;
  // An op driven by a plan advances by its plan: `advance` approves the step's manual gates.
  auto managed = c.state.executor->Manages(op);
  if (!managed.ok()) return managed.status();
  if (!*managed) {
    return ApplyChange(c, op, "advance",
                       [&](flags::Flag& f) { return flags::Advance(f, advance); });
  }
  if (to->has_value() || sample->has_value()) {
    return absl::InvalidArgumentError(
        base::StrCat("op ", op, " is driven by a plan, which sets its percentages; ",
                     "drop --to/--sample (or `cmo pause ", op, "` and move it by hand)"));
  }
  auto dry_run = BodyBool(c.call, "dry_run");
  if (!dry_run.ok()) return dry_run.status();
  auto ctx = c.Audit("plan.approve");
  if (!ctx.ok()) return ctx.status();
  if (*dry_run) {
    return nlohmann::json{{"op", op},
                          {"plan_managed", true},
                          {"dry_run", true},
                          {"result", "would approve the manual gates of the current plan step"}};
  }
  auto msg = c.state.executor->Approve(op, *ctx);
  if (!msg.ok()) return msg.status();
  return nlohmann::json{{"op", op}, {"plan_managed", true}, {"dry_run", false}, {"result", *msg}};
}

absl::StatusOr<nlohmann::json> Ramp(const Context& c, const std::string& op) {
  auto bp = OptionalPercent(c.call, "to");
  if (!bp.ok()) return bp.status();
  if (!bp->has_value()) {
    return absl::InvalidArgumentError("request body: field \"to\" (percent) is required");
  }
  const int32_t to = **bp;
  return ApplyChange(c, op, "ramp", [&](flags::Flag& f) { return flags::RampTo(f, to); });
}

absl::StatusOr<nlohmann::json> Rollback(const Context& c, const std::string& op) {
  auto text = BodyString(c.call, "to", false);
  if (!text.ok()) return text.status();
  std::optional<flags::Stage> to;
  if (!text->empty()) {
    auto stage = flags::ParseStage(*text);
    if (!stage.ok()) {
      return absl::InvalidArgumentError(base::StrCat("to: ", stage.status().message()));
    }
    to = *stage;
  }
  return ApplyChange(c, op, "rollback", [&](flags::Flag& f) { return flags::RollbackTo(f, to); });
}

absl::StatusOr<nlohmann::json> Decide(const Context& c, const std::string& op) {
  const std::string subject = Query(c.call, "subject");
  if (subject.empty()) return absl::InvalidArgumentError("query parameter subject is required");
  CMO_ASSIGN_OR_RETURN(const RequestContext context, DecideContext(c.call));
  auto flag = c.state.flags->Get(op);
  if (!flag.ok()) return flag.status();
  auto snapshot = c.state.flags->LoadSnapshot();
  if (!snapshot.ok()) return snapshot.status();
  flags::Decision d = (*snapshot)->Route(op, subject, context.attributes);
  // Why the bucket alone sends it where it would go, then what a tier and an override change.
  flags::Decision by_bucket = d;
  by_bucket.path = static_cast<int32_t>(d.bucket) < d.threshold_bp ? flags::Path::kEventual
                                                                   : flags::Path::kStrong;
  std::string why = WhyPath(*flag, by_bucket);
  nlohmann::json tier_json = nullptr;
  if (d.tier != nullptr) {
    why = base::StrCat(TierWhy(d, context.attributes), "; ", why);
    tier_json = TierDecisionJson(d, context.attributes);
  }
  nlohmann::json override_json = nullptr;
  if (const flags::Override* o = (*snapshot)->OverrideFor(*flag, subject, c.clock.Now())) {
    why = base::StrCat("support override ", o->id, " (", o->reason, "; by ", o->actor, ", until ",
                       base::Rfc3339(o->expires), ") sends this subject strong; without it: ", why);
    d.path = flags::Path::kStrong;
    override_json = flags::OverrideToJson(*o);
  }
  return nlohmann::json{{"op", op},
                        {"subject", subject},
                        {"context", context.json},
                        {"path", flags::PathName(d.path)},
                        {"target", flags::TargetName(*d.target)},
                        {"bucket", d.bucket},
                        {"threshold", d.threshold_bp},
                        {"stage", flags::StageName(d.stage)},
                        {"breaker", flags::BreakerStateName(flag->breaker)},
                        {"shadow_sample_percent", flags::BpToPercent(d.shadow_bp)},
                        {"salt", flag->salt},
                        {"revision", (*snapshot)->revision()},
                        {"tier", tier_json},
                        {"override", override_json},
                        {"why", why}};
}

}  // namespace cmo::orchestrator::api_internal
