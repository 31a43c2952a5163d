#include "flags/flag.h"

#include <algorithm>
#include <array>

#include "base/names.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/units.h"

namespace cmo::flags {
namespace {

constexpr std::array<std::string_view, 5> kStageNames = {"strong", "dual_write", "shadow", "ramp",
                                                         "eventual"};
constexpr std::array<std::string_view, 7> kModelNames = {
    "strong", "bounded_staleness", "read_your_writes", "monotonic_reads",
    "causal", "consistent_prefix", "eventual"};
constexpr std::array<std::string_view, 3> kBreakerNames = {"closed", "open", "half_open"};

template <typename Enum, size_t N>
absl::StatusOr<Enum> ParseName(std::string_view text, const std::array<std::string_view, N>& names,
                               std::string_view what) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<Enum>(i);
  }
  return absl::InvalidArgumentError(base::StrCat(
      "unknown ", what, " \"", text, "\"; expected one of: ", base::StrJoin(names, ", ")));
}

}  // namespace

std::string_view StageName(Stage s) { return kStageNames[static_cast<size_t>(s)]; }
std::string_view ModelName(Model m) { return kModelNames[static_cast<size_t>(m)]; }
std::string_view BreakerStateName(BreakerState b) { return kBreakerNames[static_cast<size_t>(b)]; }
std::string_view OpClassName(OpClass c) {
  return c == OpClass::kCritical ? "critical" : "standard";
}
std::string_view PathName(Path p) { return p == Path::kEventual ? "eventual" : "strong"; }

std::string TargetName(const Target& t) {
  if (t.model == Model::kBoundedStaleness) {
    return base::StrCat(ModelName(t.model), "(", base::FormatDuration(t.max_staleness), ")");
  }
  return std::string(ModelName(t.model));
}

absl::StatusOr<Stage> ParseStage(std::string_view text) {
  return ParseName<Stage>(text, kStageNames, "stage");
}

absl::StatusOr<OpClass> ParseOpClass(std::string_view text) {
  if (text == "critical") return OpClass::kCritical;
  if (text == "standard") return OpClass::kStandard;
  return absl::InvalidArgumentError(
      base::StrCat("unknown class \"", text, "\"; expected critical or standard"));
}

absl::StatusOr<BreakerState> ParseBreakerState(std::string_view text) {
  return ParseName<BreakerState>(text, kBreakerNames, "breaker state");
}

absl::StatusOr<Target> ParseTarget(std::string_view text) {
  constexpr std::string_view kBounded = "bounded_staleness";
  if (text.starts_with(kBounded) && text.size() > kBounded.size()) {
    std::string_view rest = text.substr(kBounded.size());
    std::string_view arg;
    if (rest.front() == ':') {
      arg = rest.substr(1);
    } else if (rest.front() == '(' && rest.back() == ')') {
      arg = rest.substr(1, rest.size() - 2);
    } else {
      return absl::InvalidArgumentError(base::StrCat(
          "malformed target \"", text, "\"; write bounded_staleness(2s) or bounded_staleness:2s"));
    }
    CMO_ASSIGN_OR_RETURN(absl::Duration max, base::ParseDuration(arg));
    if (max <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          base::StrCat("target \"", text, "\": max staleness must be positive"));
    }
    return Target{Model::kBoundedStaleness, max};
  }
  if (text == kBounded) {
    return absl::InvalidArgumentError(
        "bounded_staleness needs its bound, e.g. bounded_staleness(2s)");
  }
  CMO_ASSIGN_OR_RETURN(Model m, ParseName<Model>(text, kModelNames, "target model"));
  return Target{m, absl::ZeroDuration()};
}

int32_t EffectiveEventualBp(const Flag& flag) {
  if (flag.op_class == OpClass::kCritical) return 0;
  int32_t by_stage = 0;
  if (flag.stage == Stage::kRamp) by_stage = flag.ramp_bp;
  if (flag.stage == Stage::kEventual) by_stage = base::kMaxBasisPoints;
  switch (flag.breaker) {
    case BreakerState::kClosed:
      return by_stage;
    case BreakerState::kOpen:
      return 0;
    case BreakerState::kHalfOpen:
      return std::min(by_stage, flag.probe_bp);
  }
  return 0;
}

bool ShadowsInStage(Stage stage) { return stage == Stage::kShadow || stage == Stage::kRamp; }

absl::Status ValidateOpName(std::string_view op) {
  return base::ValidateName("op name", op, "post.like");
}

absl::Status ValidateFlag(const Flag& f) {
  CMO_RETURN_IF_ERROR(ValidateOpName(f.op));
  if (f.domain.empty()) {
    return absl::InvalidArgumentError(
        base::StrCat("op ", f.op, " needs a domain, e.g. --domain likes"));
  }
  CMO_RETURN_IF_ERROR(base::ValidateName("domain", f.domain, "likes"));
  auto in_range = [](int32_t bp) { return bp >= 0 && bp <= base::kMaxBasisPoints; };
  if (!in_range(f.ramp_bp) || !in_range(f.shadow_bp) || !in_range(f.probe_bp)) {
    return absl::InvalidArgumentError(
        base::StrCat("op ", f.op, ": percentages must be between 0% and 100%"));
  }
  if (f.op_class == OpClass::kCritical) {
    if (f.target.model != Model::kStrong) {
      return absl::InvalidArgumentError(base::StrCat(
          "op ", f.op, " is critical and must target strong, not ", TargetName(f.target),
          "; reclassify it as standard first if it really may be weakened"));
    }
    if (f.stage != Stage::kStrong) {
      return absl::InvalidArgumentError(
          base::StrCat("op ", f.op, " is critical and can never leave the strong stage"));
    }
  }
  if (f.stage != Stage::kRamp && f.stage != Stage::kEventual && f.ramp_bp != 0) {
    return absl::InvalidArgumentError(
        base::StrCat("op ", f.op, ": a ramp percent is only meaningful in the ramp stage"));
  }
  if (f.stage == Stage::kEventual && f.ramp_bp != base::kMaxBasisPoints) {
    return absl::InvalidArgumentError(base::StrCat("op ", f.op, ": eventual stage means 100%"));
  }
  return absl::OkStatus();
}

}  // namespace cmo::flags
