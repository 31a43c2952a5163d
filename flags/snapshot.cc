#include "flags/snapshot.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <utility>

// Inlined here (and in bucketing.cc and the session token): the routing decision calls it on
// every request, and a call into libxxhash is one more stretch of code to fetch each time.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "base/strings.h"
#include "flags/bucketing.h"

namespace cmo::flags {

struct OverrideIndex {
  // Points into the snapshot's overrides, which never change after construction.
  absl::flat_hash_map<std::string, std::vector<const Override*>, internal::NameHash,
                      internal::NameEq>
      by_subject;
};

struct CompiledTier {
  const Tier* tier;  // into its snapshot's tiers
  // Listed subjects and heavy writers in one map: one hash and probe per request.
  absl::flat_hash_map<std::string, TierVia, internal::NameHash, internal::NameEq> members;
  std::vector<TierRule> rules;
};

struct CompiledAmplifier {
  TierRule rule;
  absl::Duration window;
};

struct TierIndex {
  std::vector<CompiledTier> tiers;
  absl::flat_hash_map<std::string, std::vector<const CompiledTier*>> by_op;
};

namespace {
std::atomic<uint64_t> next_snapshot_uid{1};

TierVia Membership(const CompiledTier& t, std::string_view subject, EvalContext context) {
  if (auto it = t.members.find(subject); it != t.members.end()) return it->second;
  for (const TierRule& r : t.rules) {
    if (RuleMatches(r, context)) return TierVia::kRule;
  }
  return TierVia::kNone;
}

// The first tier of the op (plan order) the subject is in gives it its model; before the op
// reaches the tier's join_at stage, or when that model is strong, it keeps the subject strong.
ABSL_ATTRIBUTE_NOINLINE void ApplyTiers(const std::vector<const CompiledTier*>& tiers,
                                        std::string_view subject, EvalContext context,
                                        Decision& d) {
  for (const CompiledTier* t : tiers) {
    const TierVia via = Membership(*t, subject, context);
    if (via == TierVia::kNone) continue;
    d.tier = t->tier;
    d.tier_via = via;
    d.target = &t->tier->target;
    if (d.stage < t->tier->join_at || t->tier->target.model == Model::kStrong) {
      d.held_by_tier = d.path == Path::kEventual;
      d.path = Path::kStrong;
    }
    return;
  }
}

std::unique_ptr<TierIndex> CompileTiers(const std::vector<Tier>& tiers) {
  auto index = std::make_unique<TierIndex>();
  index->tiers.reserve(tiers.size());  // stable addresses for by_op
  for (const Tier& t : tiers) {
    CompiledTier& c = index->tiers.emplace_back();
    c.tier = &t;
    for (const std::string& h : t.heavy) c.members.emplace(h, TierVia::kTopK);
    for (const std::string& l : t.subjects) c.members[l] = TierVia::kList;  // says more
    for (const std::string& w : t.when) {
      // Tiers are validated where they enter (plan, store, snapshot decode); a rule that does
      // not parse matches nobody rather than everybody.
      if (absl::StatusOr<TierRule> r = ParseTierRule(w); r.ok()) c.rules.push_back(*std::move(r));
    }
    for (const std::string& op : t.ops) index->by_op[op].push_back(&c);
  }
  return index;
}

const Override* FindOverride(const OverrideIndex& index, const Flag& flag, std::string_view subject,
                             absl::Time now) {
  auto it = index.by_subject.find(subject);
  if (it == index.by_subject.end()) return nullptr;
  const Override* found = nullptr;
  for (const Override* o : it->second) {
    if (o->expires > now && OverrideCovers(*o, flag) &&
        (found == nullptr || o->expires < found->expires)) {
      found = o;
    }
  }
  return found;
}

}  // namespace

Snapshot::Snapshot(int64_t revision, std::vector<Flag> flags, std::vector<Override> overrides,
                   std::vector<Tier> tiers, std::vector<Amplifier> amplifiers)
    : revision_(revision),
      uid_(next_snapshot_uid.fetch_add(1, std::memory_order_relaxed)),
      flags_(std::move(flags)),
      overrides_(std::move(overrides)),
      tiers_(std::move(tiers)),
      amplifiers_(std::move(amplifiers)) {
  if (!overrides_.empty()) {
    override_index_ = std::make_unique<OverrideIndex>();
    for (const Override& o : overrides_) override_index_->by_subject[o.subject].push_back(&o);
  }
  if (!tiers_.empty()) tier_index_ = CompileTiers(tiers_);
  compiled_amplifiers_.reserve(amplifiers_.size());  // stable addresses for the ops
  for (const Amplifier& a : amplifiers_) {
    // Validated where they enter; a rule that does not parse guards nothing.
    absl::StatusOr<TierRule> rule = ParseTierRule(a.when);
    compiled_amplifiers_.push_back({rule.ok() ? *std::move(rule) : TierRule{}, a.window});
  }
  by_op_.reserve(flags_.size());
  for (const Flag& f : flags_) {
    const bool sampled = f.op_class != OpClass::kCritical && ShadowsInStage(f.stage);
    const std::vector<const CompiledTier*>* op_tiers = nullptr;
    if (tier_index_ != nullptr) {
      if (auto it = tier_index_->by_op.find(f.op); it != tier_index_->by_op.end()) {
        op_tiers = &it->second;
        for (const CompiledTier* t : it->second) counts_writers_ |= t->tier->top_k > 0;
      }
    }
    const CompiledAmplifier* amplifier = nullptr;
    for (size_t i = 0; i < amplifiers_.size(); ++i) {
      if (amplifiers_[i].op == f.op) amplifier = &compiled_amplifiers_[i];
    }
    by_op_[f.op] = CompiledOp{SaltSeed(f.salt),
                              EffectiveEventualBp(f),
                              sampled ? f.shadow_bp : 0,
                              f.stage,
                              &f,
                              override_index_.get(),
                              op_tiers,
                              amplifier,
                              false};
  }
  // Known only once every op is compiled; a write reads it from its decision.
  if (counts_writers_) {
    for (auto& [name, c] : by_op_) c.counts_writers = true;
  }
}

Snapshot::~Snapshot() = default;

const Override* Snapshot::OverrideFor(const Flag& flag, std::string_view subject,
                                      absl::Time now) const {
  return override_index_ == nullptr ? nullptr : FindOverride(*override_index_, flag, subject, now);
}

size_t internal::NameHash::operator()(std::string_view name) const {
  return static_cast<size_t>(XXH3_64bits(name.data(), name.size()));
}

const Flag* Snapshot::Find(std::string_view op) const {
  for (const Flag& f : flags_) {
    if (f.op == op) return &f;
  }
  return nullptr;
}

Decision Snapshot::Decide(std::string_view op, std::string_view subject, uint32_t sample_draw,
                          EvalContext context) const {
  Decision d = Route(op, subject, context);
  d.shadow_sampled = static_cast<int32_t>(sample_draw) < d.shadow_bp;
  return d;
}

const CompiledOp* Snapshot::Compiled(std::string_view op) const {
  auto it = by_op_.find(op);
  return it == by_op_.end() ? nullptr : &it->second;
}

Decision Snapshot::Route(std::string_view op, std::string_view subject, EvalContext context) const {
  return Route(Compiled(op), subject, context);
}

Decision Snapshot::Route(const CompiledOp* op, std::string_view subject, EvalContext context) {
  Decision d;
  if (op == nullptr) return d;
  const CompiledOp& c = *op;
  d.known_op = true;
  d.flag = c.flag;
  d.target = &c.flag->target;
  d.stage = c.stage;
  d.threshold_bp = c.threshold_bp;
  d.bucket = BucketWithSeed(c.salt_seed, subject);
  d.path = static_cast<int32_t>(d.bucket) < c.threshold_bp ? Path::kEventual : Path::kStrong;
  d.shadow_bp = c.shadow_bp;
  d.count_writer = c.counts_writers;
  if (c.tiers != nullptr) [[unlikely]]
    ApplyTiers(*c.tiers, subject, context, d);
  if (c.amplifier != nullptr && RuleMatches(c.amplifier->rule, context)) [[unlikely]]
    d.amplify_for = c.amplifier->window;
  // Only a subject headed for eventual needs the lookup (and the clock, for expiry): a hit is
  // rare, and a snapshot without overrides skips it entirely.
  if (d.path == Path::kEventual && c.overrides != nullptr &&
      FindOverride(*c.overrides, *c.flag, subject, absl::Now()) != nullptr) {
    d.path = Path::kStrong;
    d.overridden = true;
  }
  return d;
}

namespace internal {

// One reader thread's hazard pointer: the snapshot it may still be reading.
struct ReaderSlot {
  std::atomic<const Snapshot*> hazard{nullptr};
  std::atomic<bool> in_use{false};
  ReaderSlot* next = nullptr;  // immutable once the slot is published
};

struct EvaluatorState {
  std::atomic<const Snapshot*> current{nullptr};
  std::atomic<uint64_t> generation{1};
  std::atomic<ReaderSlot*> slots{nullptr};  // push-only list, freed with the state

  std::mutex writer_mu;  // writers and Current() only; never taken by Decide()
  std::shared_ptr<const Snapshot> current_owner;         // guarded by writer_mu
  std::vector<std::shared_ptr<const Snapshot>> retired;  // guarded by writer_mu

  ~EvaluatorState() {
    for (ReaderSlot* s = slots.load(); s != nullptr;) delete std::exchange(s, s->next);
  }

  ReaderSlot* AcquireSlot() {
    for (ReaderSlot* s = slots.load(std::memory_order_acquire); s != nullptr; s = s->next) {
      bool expected = false;
      if (s->in_use.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) return s;
    }
    auto* slot = new ReaderSlot();
    slot->in_use.store(true, std::memory_order_relaxed);
    ReaderSlot* head = slots.load(std::memory_order_relaxed);
    do {
      slot->next = head;
    } while (!slots.compare_exchange_weak(head, slot, std::memory_order_release,
                                          std::memory_order_relaxed));
    return slot;
  }

  // Frees retired snapshots that no reader pins. Caller holds writer_mu.
  void Reclaim() {
    std::vector<const Snapshot*> pinned;
    for (ReaderSlot* s = slots.load(std::memory_order_acquire); s != nullptr; s = s->next) {
      if (const Snapshot* h = s->hazard.load(std::memory_order_seq_cst)) pinned.push_back(h);
    }
    std::erase_if(retired, [&](const std::shared_ptr<const Snapshot>& r) {
      return std::find(pinned.begin(), pinned.end(), r.get()) == pinned.end();
    });
  }
};

}  // namespace internal

namespace {

std::atomic<uint64_t> next_evaluator_id{1};

// A thread's pin on one evaluator's snapshot.
struct PinSlot {
  uint64_t evaluator_id = 0;
  std::shared_ptr<internal::EvaluatorState> state;
  internal::ReaderSlot* reader = nullptr;
  uint64_t generation = 0;
  const Snapshot* snapshot = nullptr;

  void Release() {
    if (reader != nullptr) {
      reader->hazard.store(nullptr, std::memory_order_release);
      reader->in_use.store(false, std::memory_order_release);
    }
    *this = PinSlot();
  }
};
constexpr size_t kPinSlots = 4;  // evaluators per thread before eviction (normally one)

struct ThreadState {
  std::array<PinSlot, kPinSlots> slots;
  size_t next_victim = 0;
  uint64_t rng = 0;  // xorshift64* state; 0 = not yet seeded for this thread
  ~ThreadState() {
    for (PinSlot& s : slots) s.Release();
  }
};

ThreadState& LocalState() {
  thread_local ThreadState state;
  return state;
}

std::atomic<uint64_t> thread_seed_counter{0};

// Hazard-pointer pin: publish what we are about to read, then check it is still current, so a
// writer that retires it either sees our hazard or we see its newer snapshot.
const Snapshot* PinCurrent(internal::EvaluatorState& state, internal::ReaderSlot& reader) {
  const Snapshot* p = state.current.load(std::memory_order_seq_cst);
  for (;;) {
    reader.hazard.store(p, std::memory_order_seq_cst);
    const Snapshot* again = state.current.load(std::memory_order_seq_cst);
    if (again == p) return p;
    p = again;
  }
}

}  // namespace

FlagEvaluator::FlagEvaluator(std::shared_ptr<const Snapshot> initial, uint64_t seed)
    : id_(next_evaluator_id.fetch_add(1, std::memory_order_relaxed)),
      seed_(seed),
      state_(std::make_shared<internal::EvaluatorState>()) {
  state_->current.store(initial.get(), std::memory_order_seq_cst);
  state_->current_owner = std::move(initial);
}

FlagEvaluator::~FlagEvaluator() = default;

void FlagEvaluator::Install(std::shared_ptr<const Snapshot> snapshot) {
  std::lock_guard<std::mutex> lock(state_->writer_mu);
  state_->current.store(snapshot.get(), std::memory_order_seq_cst);
  // After the store: a reader that sees the new generation re-pins and gets the new snapshot
  // (or a newer one); a reader that still sees the old one keeps its pin one call longer.
  state_->generation.fetch_add(1, std::memory_order_seq_cst);
  state_->retired.push_back(std::exchange(state_->current_owner, std::move(snapshot)));
  state_->Reclaim();
}

std::shared_ptr<const Snapshot> FlagEvaluator::Current() const {
  std::lock_guard<std::mutex> lock(state_->writer_mu);
  return state_->current_owner;
}

const Snapshot& FlagEvaluator::Pinned() const {
  ThreadState& t = LocalState();
  PinSlot* slot = nullptr;
  for (PinSlot& s : t.slots) {
    if (s.evaluator_id == id_) {
      slot = &s;
      break;
    }
  }
  const uint64_t gen = state_->generation.load(std::memory_order_acquire);
  if (slot != nullptr && slot->generation == gen) return *slot->snapshot;  // the hot path
  if (slot == nullptr) {
    slot = &t.slots[t.next_victim];
    t.next_victim = (t.next_victim + 1) % kPinSlots;
    slot->Release();
    slot->evaluator_id = id_;
    slot->state = state_;
    slot->reader = state_->AcquireSlot();
  }
  slot->snapshot = PinCurrent(*state_, *slot->reader);
  slot->generation = gen;
  return *slot->snapshot;
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

void FlagEvaluator::Sample(Decision& d) const {
  // The draw is cheap, but skip it for ops that cannot be sampled (most requests).
  if (d.shadow_bp > 0) d.shadow_sampled = static_cast<int32_t>(NextSampleDraw()) < d.shadow_bp;
}

Decision FlagEvaluator::Decide(std::string_view op, std::string_view subject,
                               EvalContext context) const {
  Decision d = Pinned().Route(op, subject, context);
  Sample(d);
  return d;
}

Decision FlagEvaluator::Decide(std::string_view op, std::string_view subject, OpMemo& memo,
                               EvalContext context) const {
  // The pinned snapshot is alive and its uid is never reused, so a memo with its uid points
  // into it.
  const Snapshot& snapshot = Pinned();
  if (memo.snapshot_uid != snapshot.uid()) [[unlikely]] {
    memo = {snapshot.uid(), snapshot.Compiled(op)};
  }
  Decision d = Snapshot::Route(memo.op, subject, context);
  Sample(d);
  return d;
}

}  // namespace cmo::flags
