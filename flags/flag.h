// The flag model: the live routing state of one operation, and the enums it is made of.
#ifndef CMO_FLAGS_FLAG_H_
#define CMO_FLAGS_FLAG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cmo::flags {

// Where an op is in its migration. Order matters: advancing moves right, rollback moves left.
//
//   strong ──► dual_write ──► shadow ──► ramp(p%) ──► eventual
//     ▲            │             │          │            │
//     └────────────┴─────────────┴──────────┴────────────┘  rollback (to any earlier stage)
enum class Stage { kStrong = 0, kDualWrite = 1, kShadow = 2, kRamp = 3, kEventual = 4 };

enum class OpClass { kStandard, kCritical };

enum class Model {
  kStrong,
  kBoundedStaleness,
  kReadYourWrites,
  kMonotonicReads,
  kCausal,
  // Monotonic reads, and a row that names a causal predecessor (store::Row::depends_on) is
  // served by a replica only once that replica holds every change up to it (shadow/README.md).
  kConsistentPrefix,
  kEventual,
};

// closed: the flag routes as its stage says. open: forced strong (dual-write continues).
// half_open: probing the eventual path at probe_bp at most.
enum class BreakerState { kClosed, kOpen, kHalfOpen };

enum class Path { kStrong, kEventual };

// Target consistency model of an op; max_staleness only for bounded_staleness.
struct Target {
  Model model = Model::kStrong;
  absl::Duration max_staleness = absl::ZeroDuration();
  bool operator==(const Target&) const = default;
};

// The routing state of one op. A value type; FlagStore owns the persisted copy.
struct Flag {
  std::string op;
  std::string domain;
  OpClass op_class = OpClass::kStandard;
  Target target;
  Stage stage = Stage::kStrong;
  int32_t ramp_bp = 0;    // eventual share in ramp stage, 0..10000
  int32_t shadow_bp = 0;  // share of reads shadow-compared in shadow/ramp stages
  std::string salt;       // bucketing salt; defaults to the domain (see DESIGN.md)
  BreakerState breaker = BreakerState::kClosed;
  int32_t probe_bp = 100;  // eventual share while the breaker is half-open
  int64_t revision = 0;    // flag-store revision of the last change to this flag
  bool operator==(const Flag&) const = default;
};

// The share of subjects (basis points) this flag sends to the eventual path right now, taking
// class, stage and breaker into account. 0 for critical ops, whatever else the flag says.
int32_t EffectiveEventualBp(const Flag& flag);

// Whether shadow comparison runs in this flag's current stage.
bool ShadowsInStage(Stage stage);

// Checks the invariants every stored flag must satisfy; the messages say how to fix it.
absl::Status ValidateFlag(const Flag& flag);

// Validates an op name: lowercase letters, digits, '.', '_', '-'; 1..128 chars.
absl::Status ValidateOpName(std::string_view op);

std::string_view StageName(Stage stage);
std::string_view OpClassName(OpClass c);
std::string_view ModelName(Model m);
std::string_view BreakerStateName(BreakerState b);
std::string_view PathName(Path p);
// "bounded_staleness(2s)", "causal", ...
std::string TargetName(const Target& t);

absl::StatusOr<Stage> ParseStage(std::string_view text);
absl::StatusOr<OpClass> ParseOpClass(std::string_view text);
absl::StatusOr<BreakerState> ParseBreakerState(std::string_view text);
// Accepts the names of Model and "bounded_staleness(2s)" / "bounded_staleness:2s".
absl::StatusOr<Target> ParseTarget(std::string_view text);

}  // namespace cmo::flags

#endif  // CMO_FLAGS_FLAG_H_
