#include "orchestrator/bench/read_bench.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <functional>
#include <random>

#include "base/status_macros.h"
#include "base/strings.h"
#include "flags/flag_store.h"
#include "orchestrator/bench/bench_util.h"
#include "shadow/change_event.h"
#include "shadow/client.h"
#include "shadow/session_token.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::orchestrator {
namespace {

constexpr char kOp[] = "item.read";              // 0% shadow sampling
constexpr char kSampledOp[] = "item.read.1pct";  // 1%: same domain, same data
constexpr char kDomain[] = "items";

// The same stream of (subject, key) for every measurement.
class Reads {
 public:
  Reads(const ReadBenchOptions& o) : rng_(o.seed) {
    for (int64_t k = 0; k < o.keys; ++k) keys_.push_back(base::StrCat("key-", k));
    for (int s = 0; s < o.subjects; ++s) subjects_.push_back(base::StrCat("user-", s));
  }
  const std::string& Key() { return keys_[rng_() % keys_.size()]; }
  const std::string& Subject() { return subjects_[rng_() % subjects_.size()]; }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  std::mt19937_64 rng_;
  std::vector<std::string> keys_;
  std::vector<std::string> subjects_;
};

// Primary and replica hold the same rows; the replica's watermark is the primary's last LSN.
// Returns the last LSN written. A server store may hold earlier runs' rows and LSNs: the
// outbox is read from where this run started.
absl::StatusOr<int64_t> Populate(const std::string& primary_url, const std::string& replica_url,
                                 const ReadBenchOptions& o, const Reads& reads) {
  CMO_ASSIGN_OR_RETURN(auto primary, store::PrimaryStore::Open(primary_url, base::SystemClock(),
                                                               {.synchronous_full = false}));
  CMO_ASSIGN_OR_RETURN(auto replica,
                       store::ReplicaStore::Open(replica_url, {.synchronous_full = false}));
  CMO_ASSIGN_OR_RETURN(const int64_t base_lsn, primary->LastLsn());
  const std::string value(static_cast<size_t>(o.value_bytes), 'v');
  const auto& keys = reads.keys();
  for (size_t at = 0; at < keys.size(); at += 5000) {
    std::vector<store::WriteRequest> batch;
    for (size_t i = at; i < std::min(keys.size(), at + 5000); ++i) {
      batch.push_back({kDomain, keys[i], value, false, kOp, "bench"});
    }
    CMO_RETURN_IF_ERROR(primary->Write(batch).status());
    CMO_ASSIGN_OR_RETURN(auto outbox,
                         primary->ReadOutbox(base_lsn + static_cast<int64_t>(at), 5000));
    std::vector<store::Row> rows;
    for (auto& e : outbox) rows.push_back(std::move(e.row));
    const std::string topic = shadow::ChangeTopic(kDomain);
    const store::PartitionProgress progress{topic, 0, static_cast<int64_t>(at + rows.size()),
                                            rows.back().lsn, 0};
    CMO_RETURN_IF_ERROR(replica->Apply(rows, {&progress, 1}).status());
  }
  CMO_RETURN_IF_ERROR(replica->SetTopicPartitions({{shadow::ChangeTopic(kDomain), 1}}));
  CMO_ASSIGN_OR_RETURN(const int64_t last, primary->LastLsn());
  CMO_RETURN_IF_ERROR(primary->TrimOutbox(last));
  return last;
}

absl::Status RegisterOps(const std::string& dir) {
  CMO_ASSIGN_OR_RETURN(auto flags,
                       flags::FlagStore::Open(shadow::ControlDbPath(dir), base::SystemClock()));
  const flags::ChangeContext ctx{"bench", "cmo bench read", "bench", false};
  for (const auto& [op, sample_bp] : {std::pair{kOp, 0}, std::pair{kSampledOp, 100}}) {
    const int32_t shadow_bp = sample_bp;  // clang 14 lambdas cannot capture structured bindings
    flags::Flag f;
    f.op = op;
    f.domain = kDomain;
    f.target.model = flags::Model::kReadYourWrites;
    CMO_RETURN_IF_ERROR(flags->Add(f, ctx).status());
    CMO_RETURN_IF_ERROR(flags
                            ->Update(op, ctx,
                                     [&](flags::Flag& fl) {
                                       fl.stage = flags::Stage::kRamp;
                                       fl.ramp_bp = 10000;  // every subject on the eventual path
                                       fl.shadow_bp = shadow_bp;
                                       return absl::OkStatus();
                                     })
                            .status());
  }
  return absl::OkStatus();
}

// Calls and seconds spent in one measured variant, summed over its slices, and each slice's
// own rate.
struct Tally {
  int64_t calls = 0;
  double seconds = 0;
  std::vector<double> slice_rates;
  double per_s() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
};

// Runs `read` for `seconds`, checking the clock every 256 calls, into `tally`.
absl::Status Slice(double seconds, const std::function<absl::Status()>& read, Tally& tally) {
  const auto start = BenchClock::now();
  int64_t calls = 0;
  while (true) {
    for (int i = 0; i < 256; ++i) CMO_RETURN_IF_ERROR(read());
    calls += 256;
    const double elapsed = Seconds(BenchClock::now() - start);
    if (elapsed >= seconds) {
      tally.calls += calls;
      tally.seconds += elapsed;
      tally.slice_rates.push_back(static_cast<double>(calls) / elapsed);
      return absl::OkStatus();
    }
  }
}

// The median over slices of 1 - variant/direct, each slice against the direct slice of the
// same triple: a burst of interference on this shared machine skews one pair, not the figure.
double MedianOverhead(const Tally& direct, const Tally& variant) {
  std::vector<double> o;
  for (size_t i = 0; i < std::min(direct.slice_rates.size(), variant.slice_rates.size()); ++i) {
    o.push_back(1 - variant.slice_rates[i] / direct.slice_rates[i]);
  }
  if (o.empty()) return 0;
  std::nth_element(o.begin(), o.begin() + static_cast<std::ptrdiff_t>(o.size() / 2), o.end());
  return o[o.size() / 2];
}

absl::StatusOr<double> DecideTokenNs(const shadow::Client& client, Reads& reads,
                                     const std::string& token) {
  std::vector<double> batches;
  int64_t sink = 0;
  for (int b = 0; b < 51; ++b) {
    const auto start = BenchClock::now();
    constexpr int kPerBatch = 20'000;
    for (int i = 0; i < kPerBatch; ++i) {
      const flags::Decision d = client.evaluator().Decide(kOp, reads.Subject());
      CMO_ASSIGN_OR_RETURN(shadow::SessionToken t, shadow::DecodeToken(token));
      const std::string out = shadow::EncodeToken(shadow::Merge(t, {d.bucket}));
      sink += static_cast<int64_t>(out.size()) + d.threshold_bp;
    }
    batches.push_back(Seconds(BenchClock::now() - start) * 1e9 / kPerBatch);
  }
  if (sink == 0) return absl::InternalError("nothing decided");
  std::nth_element(batches.begin(), batches.begin() + 25, batches.end());
  return batches[25];
}

}  // namespace

absl::StatusOr<nlohmann::json> RunReadBench(const ReadBenchOptions& o) {
  CMO_ASSIGN_OR_RETURN(const ScopedTempDir temp, ScopedTempDir::Make(o.work_dir));
  const std::string& dir = temp.path();
  Reads reads(o);
  if (o.primary_url.empty() != o.replica_url.empty()) {
    return absl::InvalidArgumentError("--primary and --replica go together");
  }
  const std::string primary_url = o.primary_url.empty() ? shadow::PrimaryPath(dir) : o.primary_url;
  const std::string replica_url =
      o.replica_url.empty() ? shadow::ReplicaPath(dir, "local") : o.replica_url;
  CMO_ASSIGN_OR_RETURN(const int64_t last, Populate(primary_url, replica_url, o, reads));
  CMO_RETURN_IF_ERROR(RegisterOps(dir));
  const std::string token = shadow::EncodeToken({last / 2});  // the replica is past it

  shadow::ClientConfig config;
  config.state_dir = dir;
  config.region = "local";
  config.kafka_brokers = "none";
  config.synchronous_full = false;
  config.flag_poll = absl::Milliseconds(50);
  config.primary_url = primary_url;
  config.replica_url = replica_url;
  CMO_ASSIGN_OR_RETURN(auto client, shadow::Client::Open(config));
  CMO_ASSIGN_OR_RETURN(auto direct,
                       store::ReplicaStore::Open(replica_url, {.synchronous_full = false}));
  int64_t found = 0;
  auto direct_read = [&]() -> absl::Status {
    const std::string& subject = reads.Subject();  // same RNG draws as the client's reads
    (void)subject;
    CMO_ASSIGN_OR_RETURN(auto row, direct->Get(kDomain, reads.Key()));
    found += row.has_value();
    return absl::OkStatus();
  };
  const std::function<absl::Status()> direct_read_fn = direct_read;
  int64_t fallbacks = 0;
  auto client_read = [&](const char* op) {
    return [&, op]() -> absl::Status {
      const std::string& subject = reads.Subject();
      CMO_ASSIGN_OR_RETURN(shadow::ReadResult r, client->Read(op, subject, reads.Key(), token));
      found += r.value.has_value();
      fallbacks += r.fell_back;
      return absl::OkStatus();
    };
  };
  // Short interleaved slices, so that drift (CPU frequency, page cache, other processes) hits
  // the three variants alike; rounds x slices of `seconds / kSlices` each. The order rotates
  // from one triple to the next, so no variant always runs first (or right after the sampled
  // one's comparisons).
  constexpr int kSlices = 20;
  Tally direct_t, client0_t, client1_t;
  const std::function<absl::Status()> unsampled = client_read(kOp);
  const std::function<absl::Status()> sampled = client_read(kSampledOp);
  const std::array<std::pair<const std::function<absl::Status()>*, Tally*>, 3> variants = {
      {{&direct_read_fn, &direct_t}, {&unsampled, &client0_t}, {&sampled, &client1_t}}};
  for (int i = 0; i < o.rounds * kSlices; ++i) {
    for (int v = 0; v < 3; ++v) {
      const auto& [read, tally] = variants[static_cast<size_t>((i + v) % 3)];
      CMO_RETURN_IF_ERROR(Slice(o.seconds / kSlices, *read, *tally));
    }
  }
  absl::SleepFor(absl::Milliseconds(300));  // let the comparer drain
  const shadow::ClientStats stats = client->stats();
  if (fallbacks > 0) {
    return absl::InternalError(
        base::StrCat(fallbacks,
                     " reads fell back to the primary: the benchmark is not measuring "
                     "the eventual path"));
  }
  CMO_ASSIGN_OR_RETURN(double decide_ns, DecideTokenNs(*client, reads, token));
  nlohmann::json j;
  j["keys"] = o.keys;
  j["seconds_per_round"] = o.seconds;
  j["rounds"] = o.rounds;
  const double direct_s = direct_t.per_s();
  j["direct_ops_per_s"] = std::round(direct_s);
  j["client_ops_per_s_0pct"] = std::round(client0_t.per_s());
  j["client_ops_per_s_1pct"] = std::round(client1_t.per_s());
  j["overhead_0pct"] = std::round(MedianOverhead(direct_t, client0_t) * 1000) / 1000;
  j["overhead_1pct"] = std::round(MedianOverhead(direct_t, client1_t) * 1000) / 1000;
  j["overhead_0pct_aggregate"] = std::round((1 - client0_t.per_s() / direct_s) * 1000) / 1000;
  j["overhead_1pct_aggregate"] = std::round((1 - client1_t.per_s() / direct_s) * 1000) / 1000;
  j["decide_token_ns"] = std::round(decide_ns * 10) / 10;
  j["samples_compared"] = stats.samples_compared;
  j["samples_dropped"] = stats.samples_dropped;
  j["sampled_share"] =
      std::round(static_cast<double>(stats.samples_compared + stats.samples_dropped) /
                 static_cast<double>(client1_t.calls) * 10000) /
      10000;
  j["rows_found"] = found;
  return j;
}

}  // namespace cmo::orchestrator
