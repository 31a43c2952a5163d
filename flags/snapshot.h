// Evaluation of flags on the request path: an immutable Snapshot of every op's flag, and the
// FlagEvaluator that apps query on every request while snapshots are replaced underneath.
#ifndef CMO_FLAGS_SNAPSHOT_H_
#define CMO_FLAGS_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "flags/amplifier.h"
#include "flags/flag.h"
#include "flags/override.h"
#include "flags/tier.h"

namespace cmo::flags {

// The routing decision for one request.
struct Decision {
  Path path = Path::kStrong;
  uint32_t bucket = 0;       // the subject's bucket, 0..9999
  int32_t threshold_bp = 0;  // eventual iff bucket < threshold_bp
  Stage stage = Stage::kStrong;
  int32_t shadow_bp = 0;        // the op's shadow sample rate in this stage
  bool shadow_sampled = false;  // also read the other path and compare, off the hot path
  bool known_op = false;        // false: op not in the snapshot, routed strong (fail safe)
  bool overridden = false;      // a support override sent this subject strong (flags/override.h)
  // The subject's tier for this op (flags/tier.h), if any, and how it was found to be in it.
  const Tier* tier = nullptr;
  TierVia tier_via = TierVia::kNone;
  bool held_by_tier = false;  // strong because the op has not reached the tier's join_at
  // A top_k tier of the snapshot wants writes counted per subject (Snapshot::counts_writers).
  bool count_writer = false;
  // A write of an op with an amplification guard whose rule the request's context matches: how
  // long the written item stays hot (reads of it strong everywhere); zero otherwise.
  absl::Duration amplify_for = absl::ZeroDuration();
  // The model the client keeps on the eventual path: the tier's when the subject is in one,
  // else the op's. Null for unknown ops; lives as long as `flag`.
  const Target* target = nullptr;
  // The op's flag, for the client library's guarantee checks. Points into the snapshot that
  // decided: valid until this thread's next Decide() on the same FlagEvaluator (which is when
  // the thread may release its pin), or as long as the Snapshot lives. Null for unknown ops.
  const Flag* flag = nullptr;
};

// Subjects' support overrides by subject, compiled for routing.
struct OverrideIndex;
// A tier compiled for routing (its members in a hash set, its rules parsed), and all of them.
struct CompiledTier;
struct TierIndex;
// An op's amplification guard compiled for routing (its rule parsed).
struct CompiledAmplifier;

namespace internal {
// Op names and subjects are hashed by code compiled into this library (absl's string hash is a
// call into another shared library): the lookups run on every request, between SQLite reads
// that evict everything else from the instruction cache.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const;
};
struct NameEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};
}  // namespace internal

// One op's flag compiled for routing.
struct CompiledOp {
  uint64_t salt_seed;
  int32_t threshold_bp;
  int32_t shadow_bp;  // in its stage: 0 outside shadow and ramp, and for critical ops
  Stage stage;
  const Flag* flag;  // into its snapshot's flags, which never change after construction
  // Its snapshot's overrides; null when it has none, so routing without overrides costs nothing.
  const OverrideIndex* overrides;
  // The tiers listing this op, in plan order; null when none (most ops), so routing them
  // costs one branch.
  const std::vector<const CompiledTier*>* tiers;
  const CompiledAmplifier* amplifier;  // null: no guard (every op but a few writes)
  bool counts_writers;                 // its snapshot's counts_writers()
};

// What a caller keeps between decisions for one op on one thread, so that a repeat skips the
// op-name lookup while the snapshot it came from is still the current one (see
// FlagEvaluator::Decide). Never shared between threads.
struct OpMemo {
  uint64_t snapshot_uid = 0;       // the snapshot `op` belongs to; 0 = none yet
  const CompiledOp* op = nullptr;  // null: the op is not in that snapshot
};

// An immutable, versioned set of all flags, compiled for fast lookup. Thread-safe (immutable).
class Snapshot {
 public:
  Snapshot(int64_t revision, std::vector<Flag> flags, std::vector<Override> overrides = {},
           std::vector<Tier> tiers = {}, std::vector<Amplifier> amplifiers = {});
  ~Snapshot();
  // Compiled ops point into flags_: a copy would point into the original.
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;
  Snapshot(Snapshot&&) = delete;

  int64_t revision() const { return revision_; }
  // Process-unique and never reused (unlike the address): what an OpMemo is checked against.
  uint64_t uid() const { return uid_; }
  const std::vector<Flag>& flags() const { return flags_; }
  const std::vector<Override>& overrides() const { return overrides_; }
  const std::vector<Tier>& tiers() const { return tiers_; }
  const std::vector<Amplifier>& amplifiers() const { return amplifiers_; }
  // Whether a tier picks its members from the heaviest writers: then clients count writes per
  // subject for telemetry (shadow/top_writers.h); otherwise they spend nothing on it.
  bool counts_writers() const { return counts_writers_; }
  const Flag* Find(std::string_view op) const;
  // The override that sends `subject` strong for `flag` at `now`, if any (the soonest to end
  // when several do).
  const Override* OverrideFor(const Flag& flag, std::string_view subject, absl::Time now) const;

  // `sample_draw` in 0..9999 decides shadow sampling (sampled iff draw < shadow rate); the
  // caller supplies it so evaluation stays pure and testable. Allocation-free.
  // `context` is the request's evaluation context, for tiers defined by rules.
  Decision Decide(std::string_view op, std::string_view subject, uint32_t sample_draw,
                  EvalContext context = {}) const;

  // Decide without the sampling step (shadow_sampled stays false).
  Decision Route(std::string_view op, std::string_view subject, EvalContext context = {}) const;
  // The op's compiled flag; null if the op is not in this snapshot.
  const CompiledOp* Compiled(std::string_view op) const;
  static Decision Route(const CompiledOp* op, std::string_view subject, EvalContext context = {});

 private:
  int64_t revision_;
  uint64_t uid_;
  std::vector<Flag> flags_;
  std::vector<Override> overrides_;
  std::unique_ptr<OverrideIndex> override_index_;  // null without overrides
  std::vector<Tier> tiers_;
  std::unique_ptr<TierIndex> tier_index_;  // null without tiers
  bool counts_writers_ = false;
  std::vector<Amplifier> amplifiers_;
  std::vector<CompiledAmplifier> compiled_amplifiers_;
  absl::flat_hash_map<std::string, CompiledOp, internal::NameHash, internal::NameEq> by_op_;
};

namespace internal {
struct EvaluatorState;
}

// Holds the current snapshot and answers Decide() for the app's request threads.
// Thread-safe. Readers never lock: each thread caches a pointer to the snapshot it last used
// and revalidates it with one atomic load of a generation counter per decision; after an
// Install() it re-pins the new snapshot through a hazard pointer (two atomic stores and a
// load). Install() never waits for readers; it frees replaced snapshots that no reader
// thread still pins (each thread pins at most one, so at most one per reader thread lingers).
class FlagEvaluator {
 public:
  // `seed` seeds the per-thread shadow-sampling generators (tests pass a fixed one).
  explicit FlagEvaluator(std::shared_ptr<const Snapshot> initial, uint64_t seed = 0x5eed);
  ~FlagEvaluator();
  FlagEvaluator(const FlagEvaluator&) = delete;
  FlagEvaluator& operator=(const FlagEvaluator&) = delete;

  // Replaces the snapshot. Any thread; concurrent Install() calls serialize among themselves.
  void Install(std::shared_ptr<const Snapshot> snapshot);

  Decision Decide(std::string_view op, std::string_view subject, EvalContext context = {}) const;
  // The same, skipping the op-name lookup when `memo` (this thread's, for this op and this
  // evaluator) is from the current snapshot; refreshes `memo` when it is not.
  Decision Decide(std::string_view op, std::string_view subject, OpMemo& memo,
                  EvalContext context = {}) const;

  // A reference to the current snapshot (for listing and diagnostics, not the hot path: it
  // takes the writers' mutex).
  std::shared_ptr<const Snapshot> Current() const;

 private:
  const Snapshot& Pinned() const;
  uint32_t NextSampleDraw() const;
  void Sample(Decision& d) const;

  const uint64_t id_;  // process-unique, never reused: keys the per-thread caches
  const uint64_t seed_;
  // Shared with the per-thread caches, which may outlive the evaluator by a little.
  std::shared_ptr<internal::EvaluatorState> state_;
};

}  // namespace cmo::flags

#endif  // CMO_FLAGS_SNAPSHOT_H_
