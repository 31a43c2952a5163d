#include "shadow/client.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "base/mutex.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/thread_name_cache.h"
#include "flags/heavy_hitters.h"
#include "shadow/cdc_source_reader.h"
#include "shadow/change_event.h"
#include "shadow/converged.h"
#include "shadow/deployment_stores.h"
#include "shadow/hot_items.h"
#include "shadow/internal/connection_pool.h"
#include "shadow/lsn_history.h"
#include "shadow/session_token.h"
#include "shadow/shadow_comparer.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::shadow {
namespace {

constexpr absl::Duration kTickEvery = absl::Milliseconds(5);
constexpr absl::Duration kLsnSampleEvery = absl::Milliseconds(20);

std::atomic<uint64_t> next_client_id{1};

// Per thread and op: what a request would otherwise look up by name on every call.
struct OpContext {
  flags::OpMemo route;
  TelemetryRecorder::Counters* counters = nullptr;
  // The replica watermark of the op's domain, as of the snapshot `watermark_uid`.
  std::atomic<int64_t>* watermark = nullptr;
  uint64_t watermark_uid = 0;
  uint32_t reads = 0;  // to time one read in kLatencySampleEvery
};
struct OpContextTag;
using OpContexts = base::ThreadNameCache<OpContextTag, OpContext>;

bool NeedsToken(flags::Model m) {
  return m == flags::Model::kReadYourWrites || m == flags::Model::kMonotonicReads ||
         m == flags::Model::kCausal || m == flags::Model::kConsistentPrefix;
}

ABSL_ATTRIBUTE_NOINLINE absl::Status UnknownOp(std::string_view op) {
  return absl::NotFoundError(base::StrCat(
      "op \"", op, "\" is not registered; register it with `cmo ops add` before the app uses it"));
}

absl::StatusOr<std::string> TelemetryBrokers(const ClientConfig& config) {
  if (config.kafka_brokers == "none") return std::string();
  if (!config.kafka_brokers.empty()) return config.kafka_brokers;
  std::ifstream in(BootstrapPath(config.state_dir));
  std::string bootstrap;
  if (in >> bootstrap) return bootstrap;
  return std::string();
}

// Fills in the store URLs from the state dir, or checks that an app host without one has
// everything it needs instead.
absl::Status ResolveStores(ClientConfig& config) {
  if (config.region.empty()) {
    return absl::InvalidArgumentError("the client needs the local region (ClientConfig.region)");
  }
  if (config.state_dir.empty()) {
    const bool from_kafka = config.flag_source != nullptr ||
                            (!config.kafka_brokers.empty() && config.kafka_brokers != "none");
    if (config.primary_url.empty() || config.replica_url.empty() || !from_kafka ||
        (config.flag_source == nullptr && config.message_key_file.empty())) {
      return absl::InvalidArgumentError(
          "without a state dir the client needs primary_url, replica_url, kafka_brokers (flags "
          "come from cmo.flags) and message_key_file (the deployment's key ring)");
    }
    config.flags_from_kafka = true;
    return absl::OkStatus();
  }
  if (config.primary_url.empty()) {
    CMO_ASSIGN_OR_RETURN(config.primary_url, PrimaryStoreUrl(config.state_dir));
  }
  if (config.replica_url.empty()) {
    CMO_ASSIGN_OR_RETURN(config.replica_url, ReplicaStoreUrl(config.state_dir, config.region));
  }
  // A control state shared by several `cmo serve --role control` instances is not in the
  // state dir: flags come the way every app host gets them, the leader's snapshots on Kafka.
  CMO_ASSIGN_OR_RETURN(StoreLocations where, ReadStoreLocations(config.state_dir));
  if (!where.control.empty()) config.flags_from_kafka = true;
  return absl::OkStatus();
}

}  // namespace

struct Client::Impl {
  Impl(ClientConfig c, const base::Clock& clk)
      : config(std::move(c)),
        clock(clk),
        primaries([this]() {
          return store::PrimaryStore::Open(config.primary_url, clock,
                                           {.synchronous_full = config.synchronous_full});
        }),
        replicas([this]() {
          return store::ReplicaStore::Open(config.replica_url, {.synchronous_full = false});
        }) {}

  ClientConfig config;
  const base::Clock& clock;
  internal::ConnectionPool<store::PrimaryStore> primaries;
  internal::ConnectionPool<store::ReplicaStore> replicas;
  std::unique_ptr<CdcSourceReader> cdc;  // null without cdc_source
  std::unique_ptr<flags::FlagEvaluator> evaluator;
  TelemetryRecorder telemetry;
  // Writes per subject since the last telemetry cut, while a top_k tier wants them counted.
  base::Mutex writers_mu;
  flags::HeavyHitters top_writers ABSL_GUARDED_BY(writers_mu){4 * kMaxTopWriters};
  std::unique_ptr<ShadowComparer> comparer;
  std::unique_ptr<ConvergedFollower> converged;  // null without Kafka and the key ring
  // Amplification guards: the items hot now, and how they travel between clients (null
  // without Kafka and the key ring: then only this client's own writes make items hot).
  HotItems hot;
  std::shared_ptr<const base::KeyRing> keys;
  std::unique_ptr<SignedFollower> amplified_in;
  std::unique_ptr<base::KafkaProducer> amplified_out;
  std::atomic<int64_t> hot_dropped{0};  // marks refused: kMaxHotItems were hot
  LsnHistory lsn_history;

  const uint64_t id = next_client_id.fetch_add(1);  // keys the per-thread op contexts
  base::Mutex watermark_mu;
  // Per domain; entries are never removed, so the atomics' addresses are stable.
  absl::flat_hash_map<std::string, std::unique_ptr<std::atomic<int64_t>>> watermarks
      ABSL_GUARDED_BY(watermark_mu);
  // AllDomainSlots' answer and the snapshot it was built from.
  using DomainSlots = std::vector<std::pair<std::string, std::atomic<int64_t>*>>;
  std::shared_ptr<const flags::Snapshot> slots_of ABSL_GUARDED_BY(watermark_mu);
  std::shared_ptr<const DomainSlots> domain_slots ABSL_GUARDED_BY(watermark_mu);

  // Background state: touched by Tick() only, which runs on one thread at a time.
  base::Mutex tick_mu;
  std::shared_ptr<FlagSource> flag_source ABSL_GUARDED_BY(tick_mu);
  std::unique_ptr<TelemetrySink> sink ABSL_GUARDED_BY(tick_mu);
  absl::Time next_flag_poll ABSL_GUARDED_BY(tick_mu) = absl::InfinitePast();
  absl::Time next_lsn_sample ABSL_GUARDED_BY(tick_mu) = absl::InfinitePast();
  absl::Time window_start ABSL_GUARDED_BY(tick_mu) = absl::InfinitePast();

  std::atomic<int64_t> revision{0};
  std::atomic<bool> reachable{true};
  std::atomic<int64_t> flag_errors{0}, published{0}, publish_errors{0};
  std::atomic<int64_t> samples_compared{0}, samples_dropped{0};  // over every cut window

  // UnixNanos until which the replica is not tried (replica_retry_after); 0 = healthy. Read on
  // every eventual read, so the clock is consulted only while it is set.
  std::atomic<int64_t> replica_down_until{0};

  bool ReplicaResting() {
    const int64_t until = replica_down_until.load(std::memory_order_relaxed);
    if (until == 0) [[likely]]
      return false;
    if (absl::ToUnixNanos(clock.Now()) < until) return true;
    replica_down_until.store(0, std::memory_order_relaxed);
    return false;
  }

  void ReplicaFailed(const absl::Status& s) {
    if (!absl::IsUnavailable(s)) return;
    replica_down_until.store(absl::ToUnixNanos(clock.Now() + config.replica_retry_after),
                             std::memory_order_relaxed);
  }

  std::atomic<bool> stop{false};
  std::thread background;

  std::atomic<int64_t>* WatermarkSlot(const std::string& domain) {
    base::MutexLock lock(&watermark_mu);
    std::unique_ptr<std::atomic<int64_t>>& p = watermarks[domain];
    if (p == nullptr) p = std::make_unique<std::atomic<int64_t>>(0);
    return p.get();
  }

  OpContext& Context(std::string_view op) {
    if (OpContext* c = OpContexts::Find(id, op)) return *c;
    OpContext fresh;
    fresh.counters = telemetry.For(op);
    return *OpContexts::Put(id, op, fresh);
  }

  // Reads the replica's watermark for `domain` into its slot (watermarks only grow).
  absl::StatusOr<int64_t> RefreshWatermark(const std::string& domain, std::atomic<int64_t>& slot) {
    const auto read = [&](store::ReplicaStore& r) { return DomainWatermark(r, domain); };
    CMO_ASSIGN_OR_RETURN(const int64_t w, replicas.With(read));
    int64_t cached = slot.load(std::memory_order_acquire);
    while (cached < w && !slot.compare_exchange_weak(cached, w, std::memory_order_acq_rel)) {
    }
    return std::max(cached, w);
  }

  // Whether the replica may answer for the op's domain (whose watermark is `watermark`) given
  // its model and the session's token; waits (polling) up to max_wait for
  // read-your-writes/monotonic/causal.
  // `target` is the op's, or the subject's tier's.
  bool ReplicaMayServe(const flags::Flag& flag, const flags::Target& target,
                       std::atomic<int64_t>& watermark, int64_t token_lsn, bool* waited) {
    if (target.model == flags::Model::kBoundedStaleness) {
      return FreshEnough(flag, target, watermark);
    }
    if (!NeedsToken(target.model) || token_lsn <= 0) return true;
    if (watermark.load(std::memory_order_acquire) >= token_lsn) return true;
    return CatchUp(flag, watermark, token_lsn, waited);
  }

  ABSL_ATTRIBUTE_NOINLINE bool FreshEnough(const flags::Flag& flag, const flags::Target& target,
                                           std::atomic<int64_t>& watermark) {
    std::optional<int64_t> required = lsn_history.RequiredFor(clock.Now() - target.max_staleness);
    if (!required.has_value()) return false;
    if (watermark.load(std::memory_order_acquire) >= *required) return true;
    absl::StatusOr<int64_t> w = RefreshWatermark(flag.domain, watermark);
    return w.ok() && *w >= *required;
  }

  // Whether the replica holds every change up to `lsn` of every domain the snapshot names:
  // what a consistent-prefix read needs before it shows a row that depends on `lsn` (the
  // dependency's domain is not recorded with it). Waits (polling) up to max_wait.
  ABSL_ATTRIBUTE_NOINLINE bool PrefixVisible(int64_t lsn, bool* waited) {
    const std::shared_ptr<const DomainSlots> slots = AllDomainSlots();
    const absl::Time deadline = clock.Now() + config.max_wait;
    while (true) {
      bool all = true;
      for (const auto& [domain, slot] : *slots) {
        if (slot->load(std::memory_order_acquire) >= lsn) continue;
        absl::StatusOr<int64_t> w = RefreshWatermark(domain, *slot);
        if (!w.ok()) return false;
        if (*w < lsn) {
          all = false;
          break;
        }
      }
      if (all) return true;
      if (clock.Now() >= deadline) return false;
      *waited = true;
      clock.SleepFor(config.poll_interval);
    }
  }

  // The watermark slot of every domain of the current snapshot's ops (built once per snapshot).
  std::shared_ptr<const DomainSlots> AllDomainSlots() {
    std::shared_ptr<const flags::Snapshot> snapshot = evaluator->Current();
    base::MutexLock lock(&watermark_mu);
    if (slots_of == snapshot && domain_slots != nullptr) return domain_slots;
    auto slots = std::make_shared<DomainSlots>();
    for (const flags::Flag& f : snapshot->flags()) {
      if (std::any_of(slots->begin(), slots->end(),
                      [&](const auto& s) { return s.first == f.domain; })) {
        continue;
      }
      std::unique_ptr<std::atomic<int64_t>>& p = watermarks[f.domain];
      if (p == nullptr) p = std::make_unique<std::atomic<int64_t>>(0);
      slots->emplace_back(f.domain, p.get());
    }
    slots_of = std::move(snapshot);
    domain_slots = std::move(slots);
    return domain_slots;
  }

  // Waits up to max_wait for the replica to reach the token.
  ABSL_ATTRIBUTE_NOINLINE bool CatchUp(const flags::Flag& flag, std::atomic<int64_t>& watermark,
                                       int64_t token_lsn, bool* waited) {
    const absl::Time deadline = clock.Now() + config.max_wait;
    while (true) {
      absl::StatusOr<int64_t> w = RefreshWatermark(flag.domain, watermark);
      if (w.ok() && *w >= token_lsn) return true;
      if (!w.ok() || clock.Now() >= deadline) return false;
      *waited = true;
      clock.SleepFor(config.poll_interval);
    }
  }

  absl::StatusOr<std::optional<store::Row>> Get(flags::Path path, const std::string& domain,
                                                std::string_view key) {
    if (path == flags::Path::kStrong) {
      if (cdc != nullptr && cdc->Follows(domain)) [[unlikely]]
        return cdc->Get(domain, key);
      return primaries.With([&](store::PrimaryStore& p) { return p.Get(domain, key); });
    }
    return replicas.With([&](store::ReplicaStore& r) { return r.Get(domain, key); });
  }

  absl::StatusOr<WriteResult> Write(std::string_view op, std::string_view subject,
                                    std::string_view key, std::string_view value, bool tombstone,
                                    std::string_view token_text, flags::EvalContext context,
                                    int64_t depends_on) {
    CMO_ASSIGN_OR_RETURN(SessionToken token, DecodeToken(token_text));
    OpContext& ctx = Context(op);
    const flags::Decision d = evaluator->Decide(op, subject, ctx.route, context);
    if (d.flag == nullptr) return UnknownOp(op);
    const flags::Flag* flag = d.flag;
    if (cdc != nullptr && cdc->Follows(flag->domain)) [[unlikely]] {
      return absl::FailedPreconditionError(
          base::StrCat("domain ", flag->domain,
                       " is followed from the app's own table by change data "
                       "capture: write it with the app's SQL, then make the session token with "
                       "TokenAfterCommit(token, pg_current_wal_lsn() read on that connection)"));
    }
    const store::WriteRequest request{flag->domain,
                                      std::string(key),
                                      std::string(value),
                                      tombstone,
                                      std::string(op),
                                      std::string(subject),
                                      depends_on,
                                      /*priority=*/d.tier != nullptr && d.tier->priority};
    std::vector<int64_t> lsns;
    {
      CMO_ASSIGN_OR_RETURN(auto primary, primaries.Acquire());
      CMO_ASSIGN_OR_RETURN(lsns, primary->Write({&request, 1}));
    }
    telemetry.CountWrite(ctx.counters);
    if (d.count_writer) [[unlikely]]
      CountWriter(subject);
    if (d.amplify_for > absl::ZeroDuration()) [[unlikely]]
      Amplify(ctx, op, flag->domain, key, d.amplify_for);
    return WriteResult{lsns[0], EncodeToken(Merge(token, {lsns[0]}))};
  }

  // The request path. Compact, with what most reads never do (time themselves, wait for the
  // replica, fall back, take a shadow sample, fail) in functions of its own: between two of an
  // app's store reads the CPU's caches keep little of it, and each line it spans is fetched.
  // A write its guard judged viral: its item reads strong here at once, and everywhere as soon
  // as the other clients read the announcement.
  ABSL_ATTRIBUTE_NOINLINE void Amplify(OpContext& ctx, std::string_view op,
                                       const std::string& domain, std::string_view key,
                                       absl::Duration window) {
    const absl::Time now = clock.Now();
    const HotItem item{domain, std::string(key), now + window, std::string(op)};
    if (!hot.Mark(item.domain, item.key, item.until, now)) ++hot_dropped;
    telemetry.CountAmplifiedWrite(ctx.counters);
    if (amplified_out != nullptr) {
      // Fire and forget: a lost announcement leaves the item eventual elsewhere, as it was.
      amplified_out
          ->Produce(std::string(kAmplifiedTopic), 0, "hot", keys->Sign(EncodeHotItem(item)), 0)
          .IgnoreError();
      amplified_out->Poll(0);
    }
  }

  ABSL_ATTRIBUTE_NOINLINE bool HotRead(OpContext& ctx, const std::string& domain,
                                       std::string_view key) {
    if (!hot.Hot(domain, key, clock.Now())) return false;
    telemetry.CountAmplifiedRead(ctx.counters);
    return true;
  }

  void FollowHotItems() {
    const absl::Time now = clock.Now();
    if (amplified_in != nullptr) {
      amplified_in
          ->Poll(0,
                 [&](std::string_view text) {
                   absl::StatusOr<HotItem> h = DecodeHotItem(text);
                   if (!h.ok() || h->until <= now) return;
                   // Never longer than the longest guard: a key holder's bug cannot pin an
                   // item to the primary for good.
                   const absl::Time until = std::min(h->until, now + flags::kMaxAmplifyWindow);
                   if (!hot.Mark(h->domain, h->key, until, now)) ++hot_dropped;
                 })
          .IgnoreError();  // retried at the next tick
    }
    hot.Prune(now);
  }

  ABSL_ATTRIBUTE_NOINLINE void CountWriter(std::string_view subject) {
    base::MutexLock lock(&writers_mu);
    top_writers.Add(subject);
  }

  absl::StatusOr<ReadResult> Read(std::string_view op, std::string_view subject,
                                  std::string_view key, std::string_view token_text,
                                  flags::EvalContext context) {
    OpContext& ctx = Context(op);
    // Filled in place, and the only object returned, so that it is built in the caller's
    // return slot: no ReadResult is moved.
    absl::StatusOr<ReadResult> out(absl::in_place);
    absl::Status s = ++ctx.reads % kLatencySampleEvery == 0
                         ? TimedServe(ctx, op, subject, key, token_text, context, *out)
                         : Serve(ctx, op, subject, key, token_text, context, *out);
    if (!s.ok()) [[unlikely]]
      out = std::move(s);
    return out;
  }

  ABSL_ATTRIBUTE_NOINLINE absl::Status TimedServe(OpContext& ctx, std::string_view op,
                                                  std::string_view subject, std::string_view key,
                                                  std::string_view token_text,
                                                  flags::EvalContext context, ReadResult& result) {
    const absl::Time start = clock.Now();
    CMO_RETURN_IF_ERROR(Serve(ctx, op, subject, key, token_text, context, result));
    telemetry.RecordLatency(ctx.counters, result.path, clock.Now() - start);
    return absl::OkStatus();
  }

  absl::Status Serve(OpContext& ctx, std::string_view op, std::string_view subject,
                     std::string_view key, std::string_view token_text, flags::EvalContext context,
                     ReadResult& result) {
    CMO_ASSIGN_OR_RETURN(SessionToken token, DecodeToken(token_text));
    const flags::Decision d = evaluator->Decide(op, subject, ctx.route, context);
    if (d.flag == nullptr) [[unlikely]]
      return UnknownOp(op);
    const flags::Flag& flag = *d.flag;
    if (ctx.watermark_uid != ctx.route.snapshot_uid) [[unlikely]]
      Rebind(ctx, flag);
    result.path = d.path;
    if (hot.size() > 0 && d.path == flags::Path::kEventual) [[unlikely]] {
      if (HotRead(ctx, flag.domain, key)) result.path = flags::Path::kStrong;
    }
    if (result.path == flags::Path::kEventual &&
        (ReplicaResting() ||
         !ReplicaMayServe(flag, *d.target, *ctx.watermark, token.lsn, &result.waited))) {
      result.path = flags::Path::kStrong;
      result.fell_back = true;
    }
    absl::StatusOr<std::optional<store::Row>> row = Get(result.path, flag.domain, key);
    if (!row.ok() && result.path == flags::Path::kEventual) [[unlikely]] {
      // The replica is unreadable: the primary is always there and always right.
      ReplicaFailed(row.status());
      result.path = flags::Path::kStrong;
      result.fell_back = true;
      row = Get(result.path, flag.domain, key);
    }
    if (!row.ok()) return row.status();
    if (result.path == flags::Path::kEventual && row->has_value() && (*row)->depends_on > 0 &&
        d.target->model == flags::Model::kConsistentPrefix) [[unlikely]] {
      if (!PrefixVisible((*row)->depends_on, &result.waited)) {
        result.path = flags::Path::kStrong;
        result.fell_back = true;
        row = Get(result.path, flag.domain, key);
        if (!row.ok()) return row.status();
      }
    }
    if (result.waited) [[unlikely]]
      telemetry.CountWait(ctx.counters);
    if (result.fell_back) [[unlikely]]
      telemetry.CountFallback(ctx.counters);
    if (d.shadow_sampled && comparer != nullptr) [[unlikely]] {
      Offer(ctx, op, subject, key, flag, *d.target, token, result.path, *row);
    }
    if (row->has_value()) {
      result.lsn = (*row)->lsn;
      if (!(*row)->tombstone) result.value.emplace(std::move((*row)->value));
    }
    // Most reads do not move the session's position: hand its token back as it came.
    if (result.lsn > token.lsn || token_text.empty()) {
      result.token = EncodeToken(Merge(token, {result.lsn}));
    } else {
      result.token.assign(token_text);
    }
    telemetry.CountRead(ctx.counters, result.path);
    return absl::OkStatus();
  }

  // A new snapshot: the op's domain, and with it its watermark, may have changed.
  ABSL_ATTRIBUTE_NOINLINE void Rebind(OpContext& ctx, const flags::Flag& flag) {
    ctx.watermark = WatermarkSlot(flag.domain);
    ctx.watermark_uid = ctx.route.snapshot_uid;
  }

  ABSL_ATTRIBUTE_NOINLINE void Offer(OpContext& ctx, std::string_view op, std::string_view subject,
                                     std::string_view key, const flags::Flag& flag,
                                     const flags::Target& target, const SessionToken& token,
                                     flags::Path path, const std::optional<store::Row>& row) {
    const bool bounded = target.model == flags::Model::kBoundedStaleness;
    comparer->Offer(ShadowSample{
        ctx.counters, std::string(op), std::string(subject), flag.domain, std::string(key), path,
        row, path == flags::Path::kEventual && NeedsToken(target.model) ? token.lsn : 0,
        bounded ? target.max_staleness : config.staleness_window});
  }

  // Installs a newer snapshot if there is one; keeps the last good one when the control
  // plane cannot be reached.
  void RefreshFlags() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu) {
    absl::StatusOr<std::shared_ptr<const flags::Snapshot>> snap =
        flag_source->Poll(revision.load());
    reachable.store(snap.ok());
    if (!snap.ok()) {
      ++flag_errors;
      return;
    }
    if (*snap == nullptr) return;
    revision.store((*snap)->revision());
    evaluator->Install(*std::move(snap));
  }

  TelemetryWindow Cut(absl::Time start, absl::Time end) {
    TelemetryWindow w = telemetry.Cut(start, end);
    for (const OpWindow& o : w.ops) {
      samples_compared += o.samples;
      samples_dropped += o.dropped_samples;
    }
    {
      base::MutexLock lock(&writers_mu);
      for (const flags::HeavyHitters::Entry& e : top_writers.Top(kMaxTopWriters)) {
        w.top_writers.push_back({e.item, e.count});
      }
      top_writers.Clear();
    }
    w.client_id = config.client_id;
    w.region = config.region;
    w.snapshot_revision = revision.load();
    w.control_plane_reachable = reachable.load();
    return w;
  }

  void Tick() {
    base::MutexLock lock(&tick_mu);
    const absl::Time now = clock.Now();
    if (now >= next_flag_poll) {
      RefreshFlags();
      next_flag_poll = now + config.flag_poll;
    }
    if (converged != nullptr) converged->Poll(0).IgnoreError();  // retried at the next tick
    FollowHotItems();
    if (now >= next_lsn_sample) {
      absl::StatusOr<int64_t> lsn = [&]() -> absl::StatusOr<int64_t> {
        CMO_ASSIGN_OR_RETURN(auto primary, primaries.Acquire());
        return primary->LastLsn();
      }();
      if (lsn.ok()) lsn_history.Add(now, *lsn);
      std::vector<std::pair<std::string, std::atomic<int64_t>*>> domains;
      {
        base::MutexLock wl(&watermark_mu);
        for (const auto& [d, w] : watermarks) domains.emplace_back(d, w.get());
      }
      for (const auto& [d, w] : domains) RefreshWatermark(d, *w).IgnoreError();
      next_lsn_sample = now + kLsnSampleEvery;
    }
    if (window_start == absl::InfinitePast()) window_start = now;
    if (now - window_start >= config.telemetry_window) {
      TelemetryWindow w = Cut(window_start, now);
      window_start = now;
      if (sink != nullptr) {
        if (sink->Publish(w).ok()) {
          ++published;
        } else {
          ++publish_errors;
        }
      }
    }
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  impl_->stop.store(true);
  if (impl_->background.joinable()) impl_->background.join();
  if (impl_->comparer != nullptr) impl_->comparer->Stop();
}

absl::StatusOr<std::unique_ptr<Client>> Client::Open(ClientConfig config,
                                                     const base::Clock& clock) {
  CMO_RETURN_IF_ERROR(ResolveStores(config));
  if (config.client_id.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    config.client_id = base::StrCat(host, "-", ::getpid());
  }
  ShadowOptions shadow{.region = config.region, .capacity = config.shadow_queue, .comparators = {}};
  for (const auto& [domain, spec] : config.comparators) {
    absl::StatusOr<Comparator> c = ParseComparator(spec);
    if (!c.ok()) {
      return absl::InvalidArgumentError(
          base::StrCat("comparator for domain \"", domain, "\": ", c.status().message()));
    }
    shadow.comparators.emplace(domain, *std::move(c));
  }
  CMO_ASSIGN_OR_RETURN(std::string brokers, TelemetryBrokers(config));
  base::KafkaConfig kafka = {{"log_level", "0"}};
  for (const auto& [k, v] : config.kafka_properties) {
    CMO_ASSIGN_OR_RETURN(kafka[k], base::ResolveKafkaProperty(k, v));
  }
  kafka["bootstrap.servers"] = brokers;
  std::shared_ptr<const base::KeyRing> keys;
  {
    const std::string key_path = config.message_key_file.empty()
                                     ? base::MessageKeyPath(config.state_dir)
                                     : config.message_key_file;
    auto loaded = base::KeyRing::Load(key_path);
    if (loaded.ok()) {
      keys = *std::move(loaded);
    } else if (!absl::IsNotFound(loaded.status()) || !config.message_key_file.empty()) {
      return loaded.status();
    }
  }
  auto impl = std::make_unique<Impl>(std::move(config), clock);
  Impl* p = impl.get();
  {
    base::MutexLock lock(&p->tick_mu);
    p->flag_source = p->config.flag_source;
    if (p->flag_source == nullptr &&
        (p->config.flags_from_kafka || (!brokers.empty() && keys != nullptr))) {
      if (brokers.empty()) {
        return absl::InvalidArgumentError(
            "flags_from_kafka needs Kafka: set kafka_brokers, or run `cmo serve` with the embedded "
            "cluster on this state dir");
      }
      CMO_ASSIGN_OR_RETURN(p->flag_source, KafkaFlagSource::Create(kafka, clock, keys));
    }
    if (p->flag_source == nullptr) {
      p->flag_source =
          std::make_shared<ControlDbFlagSource>(ControlDbPath(p->config.state_dir), clock);
    }
    // The first snapshot must be there: an app must not start routing on nothing.
    CMO_ASSIGN_OR_RETURN(std::shared_ptr<const flags::Snapshot> snap, p->flag_source->Poll(-1));
    p->revision.store(snap->revision());
    p->evaluator = std::make_unique<flags::FlagEvaluator>(std::move(snap));
    if (!brokers.empty()) {
      CMO_ASSIGN_OR_RETURN(p->sink, KafkaTelemetrySink::Create(kafka, keys));
      if (keys != nullptr) {
        CMO_ASSIGN_OR_RETURN(p->converged, ConvergedFollower::Create(kafka, keys));
        CMO_ASSIGN_OR_RETURN(p->amplified_in,
                             SignedFollower::Create(kafka, keys, std::string(kAmplifiedTopic)));
        base::KafkaConfig producer = kafka;
        producer.emplace("linger.ms", "0");
        CMO_ASSIGN_OR_RETURN(p->amplified_out, base::KafkaProducer::Create(
                                                   producer, [](const base::DeliveryReport&) {}));
        p->keys = keys;
      }
    }
  }
  if (!p->config.cdc_source.empty()) {
    p->cdc = std::make_unique<CdcSourceReader>(p->config.cdc_source, p->config.cdc_tables);
  }
  // Fail at Open, not on the first request, when the stores cannot be opened.
  { CMO_ASSIGN_OR_RETURN(auto primary, p->primaries.Acquire()); }
  {
    // A replica server that is down does not keep the app from starting: its reads go to the
    // primary until it is back. Anything else (a bad URL, a schema of another version) does.
    absl::StatusOr<internal::ConnectionPool<store::ReplicaStore>::Lease> replica =
        p->replicas.Acquire();
    if (!replica.ok() && !absl::IsUnavailable(replica.status())) return replica.status();
    if (!replica.ok()) p->ReplicaFailed(replica.status());
  }
  p->comparer = std::make_unique<ShadowComparer>(
      [p](flags::Path path, const std::string& domain, const std::string& key) {
        return p->Get(path, domain, key);
      },
      p->telemetry, clock, std::move(shadow));
  std::unique_ptr<Client> client(new Client(std::move(impl)));
  if (p->config.background) {
    p->comparer->Start();
    p->background = std::thread([p] {
      while (!p->stop.load()) {
        p->Tick();
        p->clock.SleepFor(kTickEvery);
      }
    });
  }
  return client;
}

absl::StatusOr<WriteResult> Client::Write(std::string_view op, std::string_view subject,
                                          std::string_view key, std::string_view value,
                                          std::string_view token, flags::EvalContext context,
                                          int64_t depends_on) {
  return impl_->Write(op, subject, key, value, /*tombstone=*/false, token, context, depends_on);
}

absl::StatusOr<WriteResult> Client::Delete(std::string_view op, std::string_view subject,
                                           std::string_view key, std::string_view token,
                                           flags::EvalContext context) {
  return impl_->Write(op, subject, key, "", /*tombstone=*/true, token, context, 0);
}

absl::StatusOr<ReadResult> Client::Read(std::string_view op, std::string_view subject,
                                        std::string_view key, std::string_view token,
                                        flags::EvalContext context) {
  return impl_->Read(op, subject, key, token, context);
}

absl::Status Client::WaitConverged(std::string_view token_text, absl::Duration timeout) {
  Impl& p = *impl_;
  CMO_ASSIGN_OR_RETURN(SessionToken token, DecodeToken(token_text));
  if (p.converged == nullptr) {
    return absl::FailedPreconditionError(
        "converged notifications need Kafka and the deployment's key ring (kafka_brokers and "
        "message_key_file, or a state dir `cmo serve` runs on): the marks come from cmo serve "
        "on cmo.converged");
  }
  const absl::Time deadline = p.clock.Now() + timeout;
  while (p.converged->lsn() < token.lsn) {
    if (p.clock.Now() >= deadline) {
      return absl::DeadlineExceededError(
          base::StrCat("LSN ", token.lsn, " is not applied in every region after ",
                       absl::FormatDuration(timeout), " (converged through ", p.converged->lsn(),
                       "); a region is behind or `cmo serve` is not publishing cmo.converged"));
    }
    // The background thread polls too; whoever holds the consumer reads, the other sleeps.
    CMO_RETURN_IF_ERROR(p.converged->Poll(1));
    if (p.converged->lsn() < token.lsn) p.clock.SleepFor(p.config.poll_interval);
  }
  return absl::OkStatus();
}

void Client::Tick() { impl_->Tick(); }

int Client::RunShadowForTest(int max) { return impl_->comparer->RunOnce(max); }

TelemetryWindow Client::CutTelemetryForTest() {
  const absl::Time now = impl_->clock.Now();
  return impl_->Cut(now, now);
}

ClientStats Client::stats() {
  int64_t refused = 0;
  {
    base::MutexLock lock(&impl_->tick_mu);
    if (impl_->flag_source != nullptr) refused = impl_->flag_source->refused();
  }
  // Sample totals cover the windows cut so far (one every telemetry_window).
  return {impl_->revision.load(),
          impl_->reachable.load(),
          impl_->flag_errors.load(),
          impl_->published.load(),
          impl_->publish_errors.load(),
          impl_->samples_compared.load(),
          impl_->samples_dropped.load(),
          refused,
          impl_->converged != nullptr ? impl_->converged->lsn() : 0,
          impl_->hot.size(),
          impl_->hot_dropped.load()};
}

const flags::FlagEvaluator& Client::evaluator() const { return *impl_->evaluator; }

}  // namespace cmo::shadow
