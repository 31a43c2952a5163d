// GET /v1/settings, POST /v1/settings: the control plane's operator settings.
//   max_step: the largest eventual share one operator command may add without `confirm`:
//             `standard` (default: the next of 1/5/10/25/50/100%) or a percent such as 10%.
#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/api/internal/handlers.h"

namespace cmo::orchestrator::api_internal {
namespace {

constexpr std::string_view kMaxStep = "max_step";
constexpr std::string_view kStandard = "standard";

absl::Status CheckMaxStep(const std::string& value) {
  if (value == kStandard) return absl::OkStatus();
  absl::StatusOr<int32_t> bp = base::ParsePercentBp(value);
  if (!bp.ok() || *bp <= 0) {
    return absl::InvalidArgumentError(
        base::StrCat("max_step must be `standard` (the next of 1/5/10/25/50/100%) or a percent "
                     "above 0 such as 10%, not \"",
                     value, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<int32_t>> MaxStepBp(const Context& c) {
  auto value = c.state.plans->GetSetting(kMaxStep);
  if (!value.ok()) return value.status();
  if (!value->has_value() || **value == kStandard) return std::optional<int32_t>();
  auto bp = base::ParsePercentBp(**value);
  if (!bp.ok()) return bp.status();
  return std::optional<int32_t>(*bp);
}

absl::StatusOr<nlohmann::json> Settings(const Context& c) {
  auto value = c.state.plans->GetSetting(kMaxStep);
  if (!value.ok()) return value.status();
  return nlohmann::json{{std::string(kMaxStep), value->value_or(std::string(kStandard))}};
}

absl::StatusOr<nlohmann::json> SetSetting(const Context& c) {
  auto name = BodyString(c.call, "name", true);
  if (!name.ok()) return name.status();
  auto value = BodyString(c.call, "value", true);
  if (!value.ok()) return value.status();
  if (*name != kMaxStep) {
    return absl::InvalidArgumentError(
        base::StrCat("unknown setting \"", *name, "\"; the settings are: max_step"));
  }
  if (absl::Status s = CheckMaxStep(*value); !s.ok()) return s;
  auto ctx = c.Audit("settings.set");
  if (!ctx.ok()) return ctx.status();
  auto before = c.state.plans->GetSetting(*name);
  if (!before.ok()) return before.status();
  const std::string old = before->value_or(std::string(kStandard));
  if (old != *value) {
    if (absl::Status s = c.state.plans->PutSetting(*name, *value); !s.ok()) return s;
    auto rev = c.state.flags->RecordEvent("settings", *ctx, {{*name, old}}, {{*name, *value}});
    if (!rev.ok()) return rev.status();
  }
  return nlohmann::json{{"name", *name}, {"value", *value}, {"changed", old != *value}};
}

}  // namespace cmo::orchestrator::api_internal
