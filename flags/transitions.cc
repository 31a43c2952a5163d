#include "flags/transitions.h"

#include <algorithm>

#include "base/strings.h"
#include "base/units.h"

namespace cmo::flags {
namespace {

absl::Status CriticalError(const Flag& f, std::string_view verb) {
  return absl::InvalidArgumentError(base::StrCat("op ", f.op,
                                                 " is critical and stays strong; it cannot be ",
                                                 verb, " (critical ops never leave the primary)"));
}

}  // namespace

int32_t NextStandardBp(int32_t from_bp) {
  for (int32_t bp : {100, 500, 1000, 2500, 5000}) {
    if (from_bp < bp) return bp;
  }
  return base::kMaxBasisPoints;
}

int32_t StagedEventualBp(const Flag& f) {
  if (f.op_class == OpClass::kCritical) return 0;
  if (f.stage == Stage::kRamp) return f.ramp_bp;
  return f.stage == Stage::kEventual ? base::kMaxBasisPoints : 0;
}

int32_t StepLimitBp(int32_t from_bp, std::optional<int32_t> max_step_bp) {
  if (!max_step_bp.has_value()) return NextStandardBp(from_bp);
  return std::min(base::kMaxBasisPoints, from_bp + *max_step_bp);
}

absl::Status Advance(Flag& f, const AdvanceOptions& o) {
  if (f.op_class == OpClass::kCritical) return CriticalError(f, "advanced");
  if (f.stage == Stage::kEventual) {
    return absl::InvalidArgumentError(base::StrCat(
        "op ", f.op, " is already eventual, the final stage; use rollback to go back"));
  }
  if (f.stage == Stage::kRamp && f.ramp_bp < base::kMaxBasisPoints) {
    // Never from a partial ramp straight to everyone: the next standard percent first.
    if (o.ramp_to_bp.has_value() || o.shadow_sample_bp.has_value()) {
      return absl::InvalidArgumentError(base::StrCat("op ", f.op, " is ramping (",
                                                     base::FormatBp(f.ramp_bp),
                                                     "); `advance` takes it to the "
                                                     "next standard percent (",
                                                     base::FormatBp(NextStandardBp(f.ramp_bp)),
                                                     ") — drop "
                                                     "--to/--sample, or use `cmo ramp ",
                                                     f.op, " --to PERCENT`"));
    }
    f.ramp_bp = NextStandardBp(f.ramp_bp);
    return absl::OkStatus();
  }
  const Stage next = static_cast<Stage>(static_cast<int>(f.stage) + 1);
  if (o.ramp_to_bp.has_value() && next != Stage::kRamp) {
    return absl::InvalidArgumentError(base::StrCat(
        "--to applies only when advancing into ramp; op ", f.op, " would advance from ",
        StageName(f.stage), " to ", StageName(next), " — drop --to or use `cmo ramp`"));
  }
  if (o.shadow_sample_bp.has_value() && next != Stage::kShadow) {
    return absl::InvalidArgumentError(
        base::StrCat("--sample applies only when advancing into shadow; op ", f.op,
                     " would advance from ", StageName(f.stage), " to ", StageName(next)));
  }
  switch (next) {
    case Stage::kShadow:
      if (o.shadow_sample_bp.has_value()) {
        f.shadow_bp = *o.shadow_sample_bp;
      } else if (f.shadow_bp == 0) {
        f.shadow_bp = kDefaultShadowSampleBp;
      }
      break;
    case Stage::kRamp:
      f.ramp_bp = o.ramp_to_bp.value_or(kDefaultRampEntryBp);
      break;
    case Stage::kEventual:
      f.ramp_bp = base::kMaxBasisPoints;
      break;
    default:
      break;
  }
  f.stage = next;
  return absl::OkStatus();
}

absl::Status RampTo(Flag& f, int32_t bp) {
  if (f.op_class == OpClass::kCritical) return CriticalError(f, "ramped");
  if (bp < 0 || bp > base::kMaxBasisPoints) {
    return absl::InvalidArgumentError("a ramp must be between 0% and 100%");
  }
  if (f.stage != Stage::kShadow && f.stage != Stage::kRamp) {
    return absl::InvalidArgumentError(base::StrCat(
        "op ", f.op, " is at stage ", StageName(f.stage),
        "; ramp works only from shadow or ramp — ",
        f.stage == Stage::kEventual ? "use rollback to go back to ramp"
                                    : base::StrCat("run `cmo advance ", f.op, "` first")));
  }
  f.stage = Stage::kRamp;
  f.ramp_bp = bp;
  return absl::OkStatus();
}

Stage DefaultRollbackTarget(Stage from) {
  if (from == Stage::kRamp || from == Stage::kEventual) return Stage::kShadow;
  if (from == Stage::kStrong) return Stage::kStrong;
  return static_cast<Stage>(static_cast<int>(from) - 1);
}

absl::Status RollbackTo(Flag& f, std::optional<Stage> to) {
  if (f.stage == Stage::kStrong) {
    return absl::InvalidArgumentError(
        base::StrCat("op ", f.op, " is already strong; there is nothing to roll back"));
  }
  const Stage target = to.value_or(DefaultRollbackTarget(f.stage));
  if (static_cast<int>(target) >= static_cast<int>(f.stage)) {
    return absl::InvalidArgumentError(
        base::StrCat("rollback goes backwards: op ", f.op, " is at ", StageName(f.stage), " and ",
                     StageName(target), " is not before it — use advance or ramp to go forward"));
  }
  f.stage = target;
  if (target != Stage::kRamp) f.ramp_bp = 0;
  return absl::OkStatus();
}

}  // namespace cmo::flags
