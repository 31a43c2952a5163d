// GET /v1/plans (progress of every plan-driven op), POST /v1/plans (apply a plan's YAML),
// POST /v1/ops/{op|*}/pause|resume, GET /v1/audit.
#include "absl/time/time.h"
#include "base/strings.h"
#include "base/time_text.h"
#include "migrations/plan_parser.h"
#include "orchestrator/api/internal/handlers.h"

namespace cmo::orchestrator::api_internal {

absl::StatusOr<nlohmann::json> PlanStatus(const Context& c) {
  auto status = c.state.executor->Status();
  if (!status.ok()) return status.status();
  nlohmann::json out = nlohmann::json::array();
  for (const migrations::OpStatus& st : *status) {
    nlohmann::json gates = nlohmann::json::array();
    for (const migrations::GateStatus& g : st.gates) {
      gates.push_back({{"condition", g.condition},
                       {"measured", g.measured},
                       {"holds", g.holds},
                       {"verdict", g.verdict}});
    }
    out.push_back(
        {{"op", st.progress.op},
         {"plan", st.progress.plan},
         {"phase", st.progress.phase},
         {"step", st.progress.step + 1},
         {"steps", st.steps},
         {"step_description", st.step},
         {"stage", flags::StageName(st.flag.stage)},
         {"percent", st.flag.ramp_bp / 100.0},
         {"paused", st.progress.paused},
         {"state", st.state},
         {"time_in_step_ms", absl::ToInt64Milliseconds(st.in_step)},
         {"held_for_ms", absl::ToInt64Milliseconds(st.held_for)},
         {"hold_ms", absl::ToInt64Milliseconds(st.hold)},
         {"held_since", st.progress.held_since.has_value()
                            ? nlohmann::json(base::Rfc3339(*st.progress.held_since))
                            : nlohmann::json()},
         {"held_since_ms", st.progress.held_since.has_value()
                               ? nlohmann::json(absl::ToUnixMillis(*st.progress.held_since))
                               : nlohmann::json()},
         {"gates", gates}});
  }
  return out;
}

namespace {

// The plan in the body, or every diagnostic (FILE:LINE:COL) in one invalid-argument error.
absl::StatusOr<migrations::Plan> ParsePlanCall(const ApiCall& call) {
  auto yaml = BodyString(call, "yaml", true);
  if (!yaml.ok()) return yaml.status();
  auto file = BodyString(call, "file", false, "plan.yaml");
  if (!file.ok()) return file.status();
  migrations::ParseResult r = migrations::ParsePlan(*yaml);
  if (r.ok()) return std::move(r.plan);
  std::string lines;
  for (const migrations::Diagnostic& d : r.errors) {
    lines += migrations::FormatDiagnostic(*file, d) + "\n";
  }
  return absl::InvalidArgumentError(
      base::StrCat(lines, *file, " is not a valid plan; nothing was applied"));
}

}  // namespace

absl::Status ValidatePlanCall(const ApiCall& call) { return ParsePlanCall(call).status(); }

absl::StatusOr<nlohmann::json> ApplyPlan(const Context& c) {
  auto plan = ParsePlanCall(c.call);
  if (!plan.ok()) return plan.status();
  auto force = BodyBool(c.call, "force");
  if (!force.ok()) return force.status();
  auto ctx = c.Audit("plan.apply");
  if (!ctx.ok()) return ctx.status();
  // Both were checked by ParsePlanCall.
  const std::string yaml = *BodyString(c.call, "yaml", true);
  const std::string file = *BodyString(c.call, "file", false, "plan.yaml");
  auto result = c.state.executor->Apply(*plan, file, yaml, *ctx, *force);
  if (!result.ok()) return result.status();
  return nlohmann::json{{"plan", plan->name},
                        {"file", file},
                        {"unchanged", result->unchanged},
                        {"registered", result->registered},
                        {"replanned", result->replanned}};
}

absl::StatusOr<nlohmann::json> SetPaused(const Context& c, const std::string& op, bool paused) {
  auto ctx = c.Audit(paused ? "plan.pause" : "plan.resume");
  if (!ctx.ok()) return ctx.status();
  // "*" is every op driven by a plan (`cmo pause --all`).
  auto changed = c.state.executor->SetPaused(op == "*" ? "" : op, paused, *ctx);
  if (!changed.ok()) return changed.status();
  return nlohmann::json{{"changed", *changed}, {"paused", paused}};
}

absl::StatusOr<nlohmann::json> Audit(const Context& c) {
  const std::string op = Query(c.call, "op");
  int limit = 50;
  if (const std::string l = Query(c.call, "limit"); !l.empty()) {
    if (!absl::SimpleAtoi(l, &limit) || limit < 1 || limit > 1'000'000) {
      return absl::InvalidArgumentError(
          base::StrCat("limit: \"", l, "\" is not a number from 1 to 1000000"));
    }
  }
  std::optional<std::string_view> filter;
  if (!op.empty()) {
    if (auto f = c.state.flags->Get(op); !f.ok() && !op.starts_with("plan:")) return f.status();
    filter = op;
  }
  auto entries = c.state.flags->History(filter, limit);
  if (!entries.ok()) return entries.status();
  nlohmann::json out = nlohmann::json::array();
  for (const flags::AuditEntry& e : *entries) {
    out.push_back({{"revision", e.revision},
                   {"at", absl::FormatTime(absl::RFC3339_full, e.at, absl::UTCTimeZone())},
                   {"actor", e.actor},
                   {"op", e.op},
                   {"action", e.action},
                   {"before", e.before},
                   {"after", e.after},
                   {"reason", e.reason}});
  }
  return out;
}

}  // namespace cmo::orchestrator::api_internal
