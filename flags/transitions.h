// The operator's moves on one flag: advance to the next stage, ramp within shadow/ramp, and roll
// back to an earlier stage. Pure functions on a Flag; FlagStore persists and audits the result.
#ifndef CMO_FLAGS_TRANSITIONS_H_
#define CMO_FLAGS_TRANSITIONS_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "flags/flag.h"

namespace cmo::flags {

// The ramp percent an op enters the ramp stage at when the operator gives none.
inline constexpr int32_t kDefaultRampEntryBp = 100;
// The shadow sample rate an op enters the shadow stage at when it has none yet.
inline constexpr int32_t kDefaultShadowSampleBp = 100;

struct AdvanceOptions {
  std::optional<int32_t> ramp_to_bp;        // only when advancing into ramp
  std::optional<int32_t> shadow_sample_bp;  // only when advancing into shadow
};

// strong → dual_write → shadow → ramp (at 1% or ramp_to) → the next standard percent, up to
// 100% → eventual. kInvalidArgument with the
// fix when the move is not legal (critical op, already eventual, option for another stage).
absl::Status Advance(Flag& flag, const AdvanceOptions& options);

// The standard percents an unconfirmed operator command climbs by: 1, 5, 10, 25, 50, 100%.
// The next one above `from_bp` (100% at and above 50%).
int32_t NextStandardBp(int32_t from_bp);

// The eventual share the flag's stage gives, before any breaker (what it returns to once a
// breaker closes).
int32_t StagedEventualBp(const Flag& flag);

// The largest eventual share one operator command may give an op staged at `from_bp` without
// confirmation: the next standard percent, or `from_bp + max_step_bp` when a step size is
// configured (`cmo settings set max_step`).
int32_t StepLimitBp(int32_t from_bp, std::optional<int32_t> max_step_bp);

// Sets the eventual share. Legal from shadow (enters ramp) and ramp; lowering is allowed and
// moves the highest buckets (most recently added subjects) back first.
absl::Status RampTo(Flag& flag, int32_t bp);

// The stage `rollback` goes to when the operator names none: from ramp or eventual, shadow (all
// reads back on the primary while dual-write and comparison continue, so re-advancing is
// instant); from shadow or dual_write, the stage before.
Stage DefaultRollbackTarget(Stage from);

// Moves to an earlier stage (default: DefaultRollbackTarget). Below ramp the ramp percent resets.
absl::Status RollbackTo(Flag& flag, std::optional<Stage> to);

}  // namespace cmo::flags

#endif  // CMO_FLAGS_TRANSITIONS_H_
