// GET /v1/breakers, POST /v1/breakers/{op}/reset, GET /v1/ops/{op}/budget.
#include "absl/time/time.h"
#include "base/strings.h"
#include "base/time_text.h"
#include "orchestrator/api/internal/handlers.h"
#include "orchestrator/budget/breaker.h"
#include "orchestrator/budget/budget_controller.h"

namespace cmo::orchestrator::api_internal {

absl::StatusOr<nlohmann::json> Breakers(const Context& c) {
  auto breakers = BreakerStore::Open(c.state.flags->db());
  if (!breakers.ok()) return breakers.status();
  auto flags = c.state.flags->List();
  if (!flags.ok()) return flags.status();
  nlohmann::json out = nlohmann::json::array();
  for (const flags::Flag& f : *flags) {
    auto r = (*breakers)->Get(f.op);
    if (!r.ok()) return r.status();
    out.push_back({{"op", f.op},
                   {"breaker", flags::BreakerStateName(f.breaker)},
                   {"frozen", r->frozen},
                   {"since", base::Rfc3339(r->since)},
                   {"since_ms", absl::ToUnixMillis(r->since)},
                   {"trips", r->trips},
                   {"cooldown_ms", absl::ToInt64Milliseconds(r->cooldown)},
                   {"reason", r->reason}});
  }
  return out;
}

absl::StatusOr<nlohmann::json> ResetBreaker(const Context& c, const std::string& op) {
  auto ctx = c.Audit("breaker.reset");
  if (!ctx.ok()) return ctx.status();
  auto controller = BudgetController::Create(*c.state.flags, *c.state.plans, c.clock);
  if (!controller.ok()) return controller.status();
  auto t = (*controller)->Reset(op, *ctx);
  if (!t.ok()) return t.status();
  return nlohmann::json{{"op", op}, {"breaker", "closed"}, {"reason", t->record.reason}};
}

absl::StatusOr<nlohmann::json> Budget(const Context& c, const std::string& op) {
  if (auto f = c.state.flags->Get(op); !f.ok()) return f.status();
  auto breakers = BreakerStore::Open(c.state.flags->db());
  if (!breakers.ok()) return breakers.status();
  auto status = (*breakers)->GetStatus(op);
  if (!status.ok()) return status.status();
  if (!status->has_value()) {
    return absl::FailedPreconditionError(base::StrCat(
        "no budget evaluation for ", op,
        " yet: `cmo serve` evaluates ops in shadow stage or later while clients send telemetry"));
  }
  nlohmann::json j = nlohmann::json::parse((*status)->second, nullptr, false);
  if (j.is_discarded()) {
    return absl::DataLossError(base::StrCat("stored budget status of ", op,
                                            " is not JSON; it is rewritten by the next "
                                            "evaluation"));
  }
  j["op"] = op;
  j["evaluated"] = base::Rfc3339((*status)->first);
  j["evaluated_ms"] = absl::ToUnixMillis((*status)->first);
  return j;
}

}  // namespace cmo::orchestrator::api_internal
