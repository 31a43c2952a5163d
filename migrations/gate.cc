#include "migrations/gate.h"

#include <cctype>

#include "base/strings.h"
#include "base/units.h"
#include "migrations/diagnostics.h"

namespace cmo::migrations {

std::vector<std::string_view> MetricNames() {
  std::vector<std::string_view> out;
  for (int m = 0; m <= static_cast<int>(Metric::kTelemetryWindows); ++m) {
    out.push_back(MetricName(static_cast<Metric>(m)));
  }
  return out;
}

absl::StatusOr<Gate> ParseGate(std::string_view text) {
  Gate g;
  g.text = std::string(text);
  if (text == "manual") {
    g.manual = true;
    return g;
  }
  const size_t op_start = text.find_first_of("<>=!");
  if (op_start == std::string_view::npos) {
    return absl::InvalidArgumentError(
        "expected `METRIC < VALUE` (or <=, >, >=, ==) or `manual`, e.g. \"divergence_ratio < "
        "0.1%\"");
  }
  size_t op_end = op_start;
  while (op_end < text.size() &&
         std::string_view("<>=!").find(text[op_end]) != std::string_view::npos) {
    ++op_end;
  }
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  const std::string_view name = trim(text.substr(0, op_start));
  const std::string_view op = text.substr(op_start, op_end - op_start);
  const std::string_view value = trim(text.substr(op_end));
  const std::vector<std::string_view> names = MetricNames();
  bool found = false;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) {
      g.metric = static_cast<Metric>(i);
      found = true;
    }
  }
  if (!found) {
    return absl::InvalidArgumentError(
        base::StrCat("unknown metric `", name, "`", SuggestionSuffix(name, names)));
  }
  if (op == "<") {
    g.comparison = Comparison::kLess;
  } else if (op == "<=") {
    g.comparison = Comparison::kLessEqual;
  } else if (op == ">") {
    g.comparison = Comparison::kGreater;
  } else if (op == ">=") {
    g.comparison = Comparison::kGreaterEqual;
  } else if (op == "==") {
    g.comparison = Comparison::kEqual;
  } else {
    return absl::InvalidArgumentError(
        base::StrCat("unknown comparison `", op, "`; use <, <=, >, >= or =="));
  }
  switch (UnitOf(g.metric)) {
    case MetricUnit::kRatio: {
      auto v = base::ParsePercentPpm(value);
      if (!v.ok() || value.empty() || value.back() != '%') {
        return absl::InvalidArgumentError(base::StrCat(
            name, " is a ratio: compare it with a percentage such as 0.1%, not \"", value, "\""));
      }
      g.value = *v;
      break;
    }
    case MetricUnit::kDuration: {
      auto v = base::ParseDuration(value);
      if (!v.ok()) {
        return absl::InvalidArgumentError(
            base::StrCat(name, " is a duration: compare it with a time such as 2s or 500ms, not \"",
                         value, "\""));
      }
      g.value = absl::ToInt64Milliseconds(*v);
      break;
    }
    case MetricUnit::kCount: {
      if (value.empty() || value.size() > 12 ||
          value.find_first_not_of("0123456789") != std::string_view::npos) {
        return absl::InvalidArgumentError(base::StrCat(
            name, " is a count: compare it with a whole number such as 0 or 1000, not \"", value,
            "\""));
      }
      g.value = std::stoll(std::string(value));
      break;
    }
  }
  return g;
}

GateResult EvaluateGate(const Gate& gate, std::string_view op, MetricSource& metrics,
                        bool manual_approved) {
  if (gate.manual) return {&gate, std::nullopt, manual_approved};
  std::optional<int64_t> measured = metrics.Latest(op, gate.metric);
  return {&gate, measured, measured.has_value() && Compare(*measured, gate.comparison, gate.value)};
}

}  // namespace cmo::migrations
