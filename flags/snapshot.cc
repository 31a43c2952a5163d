#include "flags/snapshot.h"

#include <array>

#include "base/strings.h"
#include "flags/bucketing.h"

namespace cmo::flags {

Snapshot::Snapshot(int64_t revision, std::vector<Flag> flags)
    : revision_(revision), flags_(std::move(flags)) {
  by_op_.reserve(flags_.size());
  for (const Flag& f : flags_) {
    by_op_[f.op] = Compiled{SaltSeed(f.salt), EffectiveEventualBp(f),
                            f.op_class == OpClass::kCritical ? 0 : f.shadow_bp, f.stage};
  }
}

const Flag* Snapshot::Find(std::string_view op) const {
  for (const Flag& f : flags_) {
    if (f.op == op) return &f;
  }
  return nullptr;
}

Decision Snapshot::Decide(std::string_view op, std::string_view subject,
                          uint32_t sample_draw) const {
  Decision d = Route(op, subject);
  d.shadow_sampled = static_cast<int32_t>(sample_draw) < d.shadow_bp;
  return d;
}

Decision Snapshot::Route(std::string_view op, std::string_view subject) const {
  Decision d;
  auto it = by_op_.find(base::ToAbsl(op));
  if (it == by_op_.end()) return d;
  const Compiled& c = it->second;
  d.known_op = true;
  d.stage = c.stage;
  d.threshold_bp = c.threshold_bp;
  d.bucket = BucketWithSeed(c.salt_seed, subject);
  d.path = static_cast<int32_t>(d.bucket) < c.threshold_bp ? Path::kEventual : Path::kStrong;
  d.shadow_bp = ShadowsInStage(c.stage) ? c.shadow_bp : 0;
  return d;
}

namespace {

std::atomic<uint64_t> next_evaluator_id{1};

// Per-thread cache of pinned snapshots, a few evaluators deep (a process normally has one).
struct PinSlot {
  uint64_t evaluator_id = 0;
  uint64_t generation = 0;
  std::shared_ptr<const Snapshot> snapshot;
};
constexpr size_t kPinSlots = 4;

struct ThreadState {
  std::array<PinSlot, kPinSlots> slots;
  size_t next_victim = 0;
  uint64_t rng = 0;  // xorshift64* state; 0 = not yet seeded for this thread
};

ThreadState& LocalState() {
  thread_local ThreadState state;
  return state;
}

std::atomic<uint64_t> thread_seed_counter{0};

}  // namespace

FlagEvaluator::FlagEvaluator(std::shared_ptr<const Snapshot> initial, uint64_t seed)
    : id_(next_evaluator_id.fetch_add(1, std::memory_order_relaxed)),
      seed_(seed),
      current_(std::move(initial)) {}

FlagEvaluator::~FlagEvaluator() = default;

void FlagEvaluator::Install(std::shared_ptr<const Snapshot> snapshot) {
  current_.store(std::move(snapshot), std::memory_order_release);
  // After the store: a reader that sees the new generation is guaranteed to load the new
  // snapshot (or a newer one). A reader that sees the old one keeps its pin one call longer.
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const Snapshot> FlagEvaluator::Current() const {
  return current_.load(std::memory_order_acquire);
}

const Snapshot& FlagEvaluator::Pinned() const {
  ThreadState& t = LocalState();
  const uint64_t gen = generation_.load(std::memory_order_acquire);
  for (PinSlot& slot : t.slots) {
    if (slot.evaluator_id != id_) continue;
    if (slot.generation != gen) {
      slot.snapshot = current_.load(std::memory_order_acquire);
      slot.generation = gen;
    }
    return *slot.snapshot;
  }
  PinSlot& slot = t.slots[t.next_victim];
  t.next_victim = (t.next_victim + 1) % kPinSlots;
  slot.evaluator_id = id_;
  slot.snapshot = current_.load(std::memory_order_acquire);
  slot.generation = gen;
  return *slot.snapshot;
}

uint32_t FlagEvaluator::NextSampleDraw() const {
  ThreadState& t = LocalState();
  if (t.rng == 0) {
    // Distinct, reproducible streams per thread: seed and thread order decide them.
    t.rng = (seed_ ^ (0x9E3779B97F4A7C15ULL *
                      (thread_seed_counter.fetch_add(1, std::memory_order_relaxed) + 1))) |
            1;
  }
  t.rng ^= t.rng >> 12;
  t.rng ^= t.rng << 25;
  t.rng ^= t.rng >> 27;
  return static_cast<uint32_t>(((t.rng * 0x2545F4914F6CDD1DULL) >> 32) % kBucketCount);
}

Decision FlagEvaluator::Decide(std::string_view op, std::string_view subject) const {
  const Snapshot& snapshot = Pinned();
  Decision d = snapshot.Route(op, subject);
  // The draw is cheap, but skip it for ops that cannot be sampled (most requests).
  if (d.shadow_bp > 0) d.shadow_sampled = static_cast<int32_t>(NextSampleDraw()) < d.shadow_bp;
  return d;
}

}  // namespace cmo::flags
