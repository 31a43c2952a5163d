#include "orchestrator/budget/budget_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/strings.h"
#include "base/units.h"

namespace cmo::orchestrator {
namespace {

double Ratio(int64_t part, int64_t whole) {
  return whole > 0 ? 1e6 * static_cast<double>(part) / static_cast<double>(whole) : 0;
}

double Burn(double value, double limit) {
  if (limit > 0) return value / limit;
  return value > 0 ? std::numeric_limits<double>::infinity() : 0;
}

std::string Show(double v, const std::string& unit) {
  if (unit == "ppm") return base::FormatPpm(static_cast<int64_t>(std::llround(v)));
  if (unit == "ms") return base::StrCat(static_cast<int64_t>(std::llround(v)), "ms");
  return base::StrCat(static_cast<int64_t>(std::llround(v)));
}

SliReport Make(std::string name, std::string unit, double short_value, double long_value,
               double limit, int64_t observations, int64_t long_observations,
               int64_t min_observations) {
  SliReport r;
  r.name = std::move(name);
  r.unit = std::move(unit);
  r.short_value = short_value;
  r.long_value = long_value;
  r.limit = limit;
  r.burn_short = Burn(short_value, limit);
  r.burn_long = Burn(long_value, limit);
  r.observations = observations;
  r.long_observations = long_observations;
  r.enough_data = observations >= min_observations;
  r.remaining = std::clamp(1 - r.burn_long, 0.0, 1.0);
  r.trips_when = base::StrCat(r.name, " >= ", Show(limit * kFastBurn, r.unit),
                              " in the short window, or >= ", Show(limit, r.unit),
                              " in both windows; needs >= ", min_observations,
                              " observations (has ", observations, ")");
  if (limit == 0) {
    r.trips_when = base::StrCat(r.name, " > 0 in the short window; needs >= ", min_observations,
                                " observations (has ", observations, ")");
  }
  return r;
}

}  // namespace

BudgetStatus EvaluateBudget(const migrations::Budget& b, const SliCounts& s, const SliCounts& l,
                            const LagReading& lag) {
  BudgetStatus out;
  const int64_t min = b.min_samples;
  out.slis.push_back(Make("stale_read_ratio", "ppm", Ratio(s.lag, s.samples),
                          Ratio(l.lag, l.samples),
                          static_cast<double>(b.max_stale_read_ratio_ppm), s.samples, l.samples,
                          min));
  out.slis.push_back(Make("divergence_ratio", "ppm", Ratio(s.bad, s.samples),
                          Ratio(l.bad, l.samples),
                          static_cast<double>(b.max_divergence_ratio_ppm), s.samples, l.samples,
                          min));
  out.slis.push_back(Make("fallback_ratio", "ppm", Ratio(s.fallbacks, s.reads_eventual),
                          Ratio(l.fallbacks, l.reads_eventual),
                          static_cast<double>(b.max_fallback_ratio_ppm), s.reads_eventual,
                          l.reads_eventual, min));
  out.slis.push_back(Make("session_violations", "count", static_cast<double>(s.violations),
                          static_cast<double>(l.violations),
                          static_cast<double>(b.max_session_violations), s.reads_eventual,
                          l.reads_eventual, min));
  if (lag.short_p99_ms.has_value()) {
    out.slis.push_back(Make("replication_lag_p99", "ms", *lag.short_p99_ms,
                            lag.long_p99_ms.value_or(*lag.short_p99_ms),
                            absl::ToDoubleMilliseconds(b.max_replication_lag_p99), 1, 2, 1));
  }
  for (const SliReport& r : out.slis) {
    if (!r.enough_data) continue;
    const bool fast = r.burn_short >= kFastBurn;
    const bool slow = r.burn_short >= 1 && r.burn_long >= 1 && r.short_value > r.limit &&
                      r.long_observations > r.observations;
    if (!fast && !slow) continue;
    out.breach = true;
    out.reason = base::StrCat(r.name, " ", Show(r.short_value, r.unit), " over the short window (",
                              Show(r.long_value, r.unit), " over the long one) against a budget of ",
                              Show(r.limit, r.unit), ": ", fast ? "fast" : "slow", " burn ",
                              std::round(r.burn_short * 10) / 10, "x, ", r.observations,
                              " observations");
    break;
  }
  return out;
}

nlohmann::json ToJson(const BudgetStatus& s) {
  nlohmann::json slis = nlohmann::json::array();
  auto finite = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json("inf"); };
  for (const SliReport& r : s.slis) {
    slis.push_back({{"name", r.name},
                    {"unit", r.unit},
                    {"short", r.short_value},
                    {"long", r.long_value},
                    {"limit", r.limit},
                    {"burn_short", finite(r.burn_short)},
                    {"burn_long", finite(r.burn_long)},
                    {"observations", r.observations},
                    {"enough_data", r.enough_data},
                    {"remaining", r.remaining},
                    {"trips_when", r.trips_when}});
  }
  return {{"breach", s.breach}, {"reason", s.reason}, {"slis", slis}};
}

}  // namespace cmo::orchestrator
