#include "shadow/telemetry.h"

#include <bit>

#include "base/json.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/thread_name_cache.h"
#include "nlohmann/json.hpp"

namespace cmo::shadow {

using Json = nlohmann::json;

struct TelemetryRecorder::Counters {
  std::string op;
  std::atomic<int64_t> writes{0}, reads_strong{0}, reads_eventual{0}, samples{0},
      dropped_samples{0}, waits{0}, fallbacks{0}, violations{0}, amplified_writes{0},
      amplified_reads{0};
  std::array<std::atomic<int64_t>, kMismatchClasses> classes{};
  std::array<std::atomic<int64_t>, kLatencyBuckets> latency_strong{};
  std::array<std::atomic<int64_t>, kLatencyBuckets> latency_eventual{};
};

namespace {

void Bump(std::atomic<int64_t>& a) { a.fetch_add(1, std::memory_order_relaxed); }
int64_t Take(std::atomic<int64_t>& a) { return a.exchange(0, std::memory_order_relaxed); }

int64_t ToMs(absl::Time t) { return absl::ToUnixMillis(t); }

}  // namespace

int LatencyBucket(absl::Duration d) {
  const int64_t us = absl::ToInt64Microseconds(d);
  if (us <= 0) return 0;
  return std::min(kLatencyBuckets - 1, static_cast<int>(std::bit_width(static_cast<uint64_t>(us))));
}

double HistogramQuantileUs(const LatencyHistogram& h, double q) {
  int64_t total = 0;
  for (int64_t n : h) total += n;
  if (total == 0) return 0;
  const double rank = q * static_cast<double>(total);
  int64_t seen = 0;
  for (int i = 0; i < kLatencyBuckets; ++i) {
    seen += h[static_cast<size_t>(i)];
    if (static_cast<double>(seen) >= rank && h[static_cast<size_t>(i)] > 0) {
      return static_cast<double>(uint64_t{1} << i);
    }
  }
  return static_cast<double>(uint64_t{1} << (kLatencyBuckets - 1));
}

namespace {
std::atomic<uint64_t> next_recorder_id{1};

// Per thread, every op's counters it has used: skips the recorder's map and its lock.
struct OpCountersTag;
using OpCache = base::ThreadNameCache<OpCountersTag, TelemetryRecorder::Counters*>;
}  // namespace

TelemetryRecorder::TelemetryRecorder(int max_mismatches_per_window)
    : id_(next_recorder_id.fetch_add(1)), max_mismatches_(max_mismatches_per_window) {}
TelemetryRecorder::~TelemetryRecorder() = default;

TelemetryRecorder::Counters* TelemetryRecorder::For(std::string_view op) {
  if (Counters** c = OpCache::Find(id_, op)) return *c;
  return *OpCache::Put(id_, op, Find(op));
}

TelemetryRecorder::Counters* TelemetryRecorder::Find(std::string_view op) {
  {
    base::MutexLock lock(&mu_);
    auto it = ops_.find(base::ToAbsl(op));
    if (it != ops_.end()) return it->second.get();
  }
  base::MutexLock lock(&mu_);
  std::unique_ptr<Counters>& c = ops_[base::ToAbsl(op)];
  if (c == nullptr) {
    c = std::make_unique<Counters>();
    c->op = std::string(op);
  }
  return c.get();
}

void TelemetryRecorder::CountWrite(Counters* c) { Bump(c->writes); }
void TelemetryRecorder::CountRead(Counters* c, flags::Path path) {
  Bump(path == flags::Path::kStrong ? c->reads_strong : c->reads_eventual);
}
void TelemetryRecorder::RecordLatency(Counters* c, flags::Path path, absl::Duration latency) {
  const size_t b = static_cast<size_t>(LatencyBucket(latency));
  Bump(path == flags::Path::kStrong ? c->latency_strong[b] : c->latency_eventual[b]);
}
void TelemetryRecorder::CountWait(Counters* c) { Bump(c->waits); }
void TelemetryRecorder::CountFallback(Counters* c) { Bump(c->fallbacks); }
void TelemetryRecorder::CountDroppedSample(Counters* c) { Bump(c->dropped_samples); }
void TelemetryRecorder::CountViolation(Counters* c) { Bump(c->violations); }
void TelemetryRecorder::CountAmplifiedWrite(Counters* c) { Bump(c->amplified_writes); }
void TelemetryRecorder::CountAmplifiedRead(Counters* c) { Bump(c->amplified_reads); }
void TelemetryRecorder::CountSample(Counters* c, MismatchClass cls) {
  Bump(c->samples);
  Bump(c->classes[static_cast<size_t>(cls)]);
}

void TelemetryRecorder::RecordMismatch(const Mismatch& m) {
  base::MutexLock lock(&mismatch_mu_);
  if (static_cast<int>(mismatches_.size()) >= max_mismatches_) {
    ++mismatches_dropped_;
    return;
  }
  mismatches_.push_back(m);
}

TelemetryWindow TelemetryRecorder::Cut(absl::Time start, absl::Time end) {
  TelemetryWindow w;
  w.start = start;
  w.end = end;
  std::vector<Mismatch> mismatches;
  {
    base::MutexLock lock(&mismatch_mu_);
    mismatches.swap(mismatches_);
    w.mismatches_dropped = std::exchange(mismatches_dropped_, 0);
  }
  base::MutexLock lock(&mu_);
  for (auto& [name, c] : ops_) {
    OpWindow o;
    o.op = name;
    o.writes = Take(c->writes);
    o.reads_strong = Take(c->reads_strong);
    o.reads_eventual = Take(c->reads_eventual);
    o.samples = Take(c->samples);
    o.dropped_samples = Take(c->dropped_samples);
    o.waits = Take(c->waits);
    o.fallbacks = Take(c->fallbacks);
    o.guarantee_violations = Take(c->violations);
    o.amplified_writes = Take(c->amplified_writes);
    o.amplified_reads = Take(c->amplified_reads);
    for (size_t i = 0; i < o.classes.size(); ++i) o.classes[i] = Take(c->classes[i]);
    for (size_t i = 0; i < kLatencyBuckets; ++i) {
      o.latency_strong[i] = Take(c->latency_strong[i]);
      o.latency_eventual[i] = Take(c->latency_eventual[i]);
    }
    for (const Mismatch& m : mismatches) {
      if (m.op == name) o.mismatches.push_back(m);
    }
    OpWindow idle;
    idle.op = name;
    if (o == idle) continue;  // nothing happened
    w.ops.push_back(std::move(o));
  }
  std::sort(w.ops.begin(), w.ops.end(),
            [](const OpWindow& a, const OpWindow& b) { return a.op < b.op; });
  return w;
}

std::string EncodeTelemetry(const TelemetryWindow& w) {
  Json ops = Json::array();
  for (const OpWindow& o : w.ops) {
    Json classes = Json::object();
    for (int i = 0; i < kMismatchClasses; ++i) {
      classes[std::string(MismatchClassName(static_cast<MismatchClass>(i)))] =
          o.classes[static_cast<size_t>(i)];
    }
    Json mismatches = Json::array();
    for (const Mismatch& m : o.mismatches) {
      mismatches.push_back({{"subject", m.subject},
                            {"domain", m.domain},
                            {"key", m.key},
                            {"region", m.region},
                            {"class", MismatchClassName(m.mismatch_class)},
                            {"primary_lsn", m.primary_lsn},
                            {"replica_lsn", m.replica_lsn},
                            {"detected_ms", ToMs(m.detected_at)}});
    }
    ops.push_back({{"op", o.op},
                   {"writes", o.writes},
                   {"reads_strong", o.reads_strong},
                   {"reads_eventual", o.reads_eventual},
                   {"samples", o.samples},
                   {"dropped_samples", o.dropped_samples},
                   {"classes", classes},
                   {"waits", o.waits},
                   {"fallbacks", o.fallbacks},
                   {"guarantee_violations", o.guarantee_violations},
                   {"latency_strong_us_log2", o.latency_strong},
                   {"latency_eventual_us_log2", o.latency_eventual},
                   {"mismatches", mismatches}});
    if (o.amplified_writes != 0 || o.amplified_reads != 0) {
      ops.back()["amplified_writes"] = o.amplified_writes;
      ops.back()["amplified_reads"] = o.amplified_reads;
    }
  }
  Json j = {{"v", w.version},
            {"client", w.client_id},
            {"region", w.region},
            {"start_ms", ToMs(w.start)},
            {"end_ms", ToMs(w.end)},
            {"snapshot_revision", w.snapshot_revision},
            {"control_plane_reachable", w.control_plane_reachable},
            {"mismatches_dropped", w.mismatches_dropped},
            {"ops", ops}};
  if (!w.top_writers.empty()) {
    Json top = Json::array();
    for (const SubjectWrites& t : w.top_writers) {
      top.push_back({{"subject", t.subject}, {"writes", t.writes}});
    }
    j["top_writers"] = std::move(top);
  }
  return base::JsonText(j);
}

absl::StatusOr<TelemetryWindow> DecodeTelemetry(std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("telemetry window is not a JSON object");
  }
  try {
    TelemetryWindow w;
    const int64_t version = base::JsonInt(j.at("v"));
    w.version = version == kTelemetryVersion ? kTelemetryVersion : -1;
    if (version != kTelemetryVersion) {
      return absl::InvalidArgumentError(base::StrCat(
          "telemetry version ", version, " is not supported (expected ", kTelemetryVersion, ")"));
    }
    w.client_id = j.at("client").get<std::string>();
    w.region = j.at("region").get<std::string>();
    w.start = absl::FromUnixMillis(base::JsonInt(j.at("start_ms")));
    w.end = absl::FromUnixMillis(base::JsonInt(j.at("end_ms")));
    w.snapshot_revision = base::JsonInt(j.at("snapshot_revision"));
    w.control_plane_reachable = j.at("control_plane_reachable").get<bool>();
    w.mismatches_dropped = base::JsonInt(j.at("mismatches_dropped"));
    if (auto top = j.find("top_writers"); top != j.end()) {
      if (!top->is_array() || top->size() > static_cast<size_t>(kMaxTopWriters)) {
        return absl::InvalidArgumentError(
            base::StrCat("malformed telemetry window: top_writers must be an array of at most ",
                         kMaxTopWriters));
      }
      for (const Json& t : *top) {
        SubjectWrites sw{t.at("subject").get<std::string>(), base::JsonInt(t.at("writes"))};
        if (sw.writes < 0 || sw.subject.empty() || sw.subject.size() > 256) {
          return absl::InvalidArgumentError(
              "malformed telemetry window: top_writers need a subject of 1-256 bytes and "
              "writes >= 0");
        }
        w.top_writers.push_back(std::move(sw));
      }
    }
    for (const Json& o : j.at("ops")) {
      OpWindow ow;
      ow.op = o.at("op").get<std::string>();
      ow.writes = base::JsonInt(o.at("writes"));
      ow.reads_strong = base::JsonInt(o.at("reads_strong"));
      ow.reads_eventual = base::JsonInt(o.at("reads_eventual"));
      ow.samples = base::JsonInt(o.at("samples"));
      ow.dropped_samples = base::JsonInt(o.at("dropped_samples"));
      for (int i = 0; i < kMismatchClasses; ++i) {
        ow.classes[static_cast<size_t>(i)] = base::JsonInt(
            o.at("classes").at(std::string(MismatchClassName(static_cast<MismatchClass>(i)))));
      }
      ow.waits = base::JsonInt(o.at("waits"));
      ow.fallbacks = base::JsonInt(o.at("fallbacks"));
      ow.guarantee_violations = base::JsonInt(o.at("guarantee_violations"));
      if (o.contains("amplified_writes"))
        ow.amplified_writes = base::JsonInt(o["amplified_writes"]);
      if (o.contains("amplified_reads")) ow.amplified_reads = base::JsonInt(o["amplified_reads"]);
      for (auto [name, hist] : {std::pair{"latency_strong_us_log2", &ow.latency_strong},
                                std::pair{"latency_eventual_us_log2", &ow.latency_eventual}}) {
        const Json& a = o.at(name);
        if (!a.is_array() || a.size() != hist->size()) {
          return absl::InvalidArgumentError(base::StrCat("malformed telemetry window: ", name,
                                                         " must be an array of ", hist->size(),
                                                         " integers"));
        }
        for (size_t i = 0; i < hist->size(); ++i) (*hist)[i] = base::JsonInt(a[i]);
      }
      for (const Json& m : o.at("mismatches")) {
        Mismatch mm;
        mm.op = ow.op;
        mm.subject = m.at("subject").get<std::string>();
        mm.domain = m.at("domain").get<std::string>();
        mm.key = m.at("key").get<std::string>();
        mm.region = m.at("region").get<std::string>();
        const std::string cls = m.at("class").get<std::string>();
        bool known = false;
        for (int i = 0; i < kMismatchClasses; ++i) {
          if (MismatchClassName(static_cast<MismatchClass>(i)) == cls) {
            mm.mismatch_class = static_cast<MismatchClass>(i);
            known = true;
          }
        }
        if (!known) return absl::InvalidArgumentError(base::StrCat("unknown class \"", cls, "\""));
        mm.primary_lsn = base::JsonInt(m.at("primary_lsn"));
        mm.replica_lsn = base::JsonInt(m.at("replica_lsn"));
        mm.detected_at = absl::FromUnixMillis(base::JsonInt(m.at("detected_ms")));
        ow.mismatches.push_back(std::move(mm));
      }
      w.ops.push_back(std::move(ow));
    }
    return w;
  } catch (const std::exception& e) {  // Json::exception, or JsonInt's std::out_of_range
    return absl::InvalidArgumentError(base::StrCat("malformed telemetry window: ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<KafkaTelemetrySink>> KafkaTelemetrySink::Create(
    const base::KafkaConfig& kafka, std::shared_ptr<const base::KeyRing> keys) {
  base::KafkaConfig config = kafka;
  config.emplace("linger.ms", "20");
  config.emplace("message.timeout.ms", "5000");
  CMO_ASSIGN_OR_RETURN(auto producer,
                       base::KafkaProducer::Create(config, [](const base::DeliveryReport&) {}));
  return std::unique_ptr<KafkaTelemetrySink>(
      new KafkaTelemetrySink(std::move(producer), std::move(keys)));
}

absl::Status KafkaTelemetrySink::Publish(const TelemetryWindow& w) {
  producer_->Poll(0);
  absl::Status s =
      producer_->Produce(std::string(kTelemetryTopic), -1, w.client_id,
                         keys_ ? keys_->Sign(EncodeTelemetry(w)) : EncodeTelemetry(w), 0);
  if (!s.ok()) ++dropped_;
  return s;
}

}  // namespace cmo::shadow
