// GET /metrics (Prometheus text format 0.0.4) and GET /v1/status.
#include <charconv>
#include <cmath>
#include <span>
#include <sstream>
#include <vector>

#include "base/build_info.h"
#include "base/process_stats.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "flags/override_store.h"
#include "orchestrator/api/internal/http_parts.h"
#include "orchestrator/api/internal/http_stats.h"
#include "orchestrator/budget/breaker.h"
#include "orchestrator/service/server.h"
#include "orchestrator/service/webhooks.h"
#include "reconcile/reconcile_job.h"

namespace cmo::orchestrator::api_internal {
namespace {

// Label values escaped as the exposition format requires.
std::string Escape(std::string_view v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out;
}

class Exposition {
 public:
  // Declares a metric family once; samples follow with Sample().
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  using Labels = std::vector<std::pair<std::string_view, std::string_view>>;
  void Sample(std::string_view name, const Labels& labels, double value) {
    out_ << name;
    if (!labels.empty()) {
      out_ << "{";
      bool first = true;
      for (const auto& [k, v] : labels) {
        out_ << (first ? "" : ",") << k << "=\"" << Escape(v) << "\"";
        first = false;
      }
      out_ << "}";
    }
    out_ << " " << SampleValue(value) << "\n";
  }
  // The samples of one histogram (its family declared before): a _bucket per bound with
  // `cumulative` counts, +Inf with `count`, then _sum and _count.
  void Histogram(std::string_view name, const Labels& labels, std::span<const double> bounds,
                 std::span<const int64_t> cumulative, int64_t count, double sum) {
    const std::string bucket = base::StrCat(name, "_bucket");
    for (size_t b = 0; b <= bounds.size(); ++b) {
      const std::string le = b < bounds.size() ? SampleValue(bounds[b]) : "+Inf";
      Labels with_le = labels;
      with_le.emplace_back("le", le);
      Sample(bucket, with_le, static_cast<double>(b < bounds.size() ? cumulative[b] : count));
    }
    Sample(base::StrCat(name, "_sum"), labels, sum);
    Sample(base::StrCat(name, "_count"), labels, static_cast<double>(count));
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

int BreakerValue(flags::BreakerState s) {
  switch (s) {
    case flags::BreakerState::kClosed:
      return 0;
    case flags::BreakerState::kHalfOpen:
      return 1;
    case flags::BreakerState::kOpen:
      return 2;
  }
  return 0;
}

absl::Status RenderControl(ControlState& state, Exposition& m) {
  CMO_ASSIGN_OR_RETURN(int64_t revision, state.flags->Revision());
  m.Family("cmo_flags_revision", "gauge", "Revision of the flag store (every change bumps it)");
  m.Sample("cmo_flags_revision", {}, static_cast<double>(revision));
  CMO_ASSIGN_OR_RETURN(std::vector<flags::Override> overrides,
                       flags::ActiveOverrides(state.flags->db(), state.flags->clock().Now()));
  m.Family("cmo_overrides_active", "gauge",
           "Support overrides in force (at most 5000; each is in every flag snapshot)");
  m.Sample("cmo_overrides_active", {}, static_cast<double>(overrides.size()));
  CMO_ASSIGN_OR_RETURN(std::vector<flags::Flag> all, state.flags->List());
  // The stage twice, as Prometheus users expect: a number to compare and graph, and an
  // info series whose label names it (never both in one series).
  m.Family("cmo_op_stage", "gauge",
           "Stage of each op: 0 strong, 1 dual_write, 2 shadow, 3 ramp, 4 eventual");
  for (const flags::Flag& f : all) {
    m.Sample("cmo_op_stage", {{"op", f.op}, {"domain", f.domain}}, static_cast<int>(f.stage));
  }
  m.Family("cmo_op_stage_info", "gauge", "The stage of each op by name (always 1)");
  for (const flags::Flag& f : all) {
    m.Sample("cmo_op_stage_info",
             {{"op", f.op}, {"domain", f.domain}, {"stage", flags::StageName(f.stage)}}, 1);
  }
  // Shares as ratios 0..1 (basis points / 10,000).
  m.Family("cmo_op_ramp_ratio", "gauge", "Ramp of each op: share of subjects, 0..1");
  for (const flags::Flag& f : all) m.Sample("cmo_op_ramp_ratio", {{"op", f.op}}, f.ramp_bp / 1e4);
  m.Family("cmo_op_eventual_ratio", "gauge",
           "Share of subjects on the eventual path now, 0..1 (0 while the breaker is open)");
  for (const flags::Flag& f : all) {
    m.Sample("cmo_op_eventual_ratio", {{"op", f.op}}, flags::EffectiveEventualBp(f) / 1e4);
  }
  m.Family("cmo_op_shadow_sample_ratio", "gauge", "Share of reads shadow-compared, 0..1");
  for (const flags::Flag& f : all) {
    m.Sample("cmo_op_shadow_sample_ratio", {{"op", f.op}}, f.shadow_bp / 1e4);
  }
  m.Family("cmo_breaker_state", "gauge", "Circuit breaker: 0 closed, 1 half_open, 2 open");
  for (const flags::Flag& f : all) {
    m.Sample("cmo_breaker_state", {{"op", f.op}}, BreakerValue(f.breaker));
  }
  CMO_ASSIGN_OR_RETURN(auto breakers, BreakerStore::Open(state.flags->db()));
  m.Family("cmo_breaker_trips", "gauge", "Consecutive trips of each op's breaker");
  m.Family("cmo_sli", "gauge",
           "Consistency SLIs per op and window, in base units: *_ratio 0..1, "
           "replication_lag_p99 seconds, session_violations a count");
  m.Family("cmo_budget_burn_rate", "gauge", "Budget burn rate per SLI and window (1 = on budget)");
  m.Family("cmo_budget_remaining_ratio", "gauge", "Share of the consistency budget left");
  m.Family("cmo_sli_enough_data", "gauge",
           "1 when the SLI has min_samples of evidence in its short window; 0: no data (its "
           "value, burn and remaining are not exported)");
  for (const flags::Flag& f : all) {
    CMO_ASSIGN_OR_RETURN(BreakerRecord r, breakers->Get(f.op));
    m.Sample("cmo_breaker_trips", {{"op", f.op}}, static_cast<double>(r.trips));
    CMO_ASSIGN_OR_RETURN(auto status, breakers->GetStatus(f.op));
    if (!status.has_value()) continue;
    const nlohmann::json j = nlohmann::json::parse(status->second, nullptr, false);
    if (j.is_discarded() || !j.contains("slis")) continue;
    for (const nlohmann::json& s : j["slis"]) {
      const std::string name = s.value("name", "?");
      // The budget works in ppm and ms; Prometheus wants ratios and seconds.
      const std::string unit = s.value("unit", "");
      const double scale = unit == "ppm" ? 1e-6 : unit == "ms" ? 1e-3 : 1;
      // Below min_samples a value is not evidence: no sample at all rather than a healthy-looking
      // one (a burn of 0 and 100% left), and cmo_sli_enough_data says which.
      const bool enough = s.value("enough_data", false);
      m.Sample("cmo_sli_enough_data", {{"op", f.op}, {"sli", name}}, enough ? 1 : 0);
      if (!enough) continue;
      for (const char* w : {"short", "long"}) {
        if (s.contains(w) && s[w].is_number()) {
          m.Sample("cmo_sli", {{"op", f.op}, {"sli", name}, {"window", w}},
                   s[w].get<double>() * scale);
        }
        const std::string burn = base::StrCat("burn_", w);
        if (s.contains(burn) && s[burn].is_number()) {
          m.Sample("cmo_budget_burn_rate", {{"op", f.op}, {"sli", name}, {"window", w}},
                   s[burn].get<double>());
        }
      }
      if (s.contains("remaining") && s["remaining"].is_number()) {
        m.Sample("cmo_budget_remaining_ratio", {{"op", f.op}, {"sli", name}},
                 s["remaining"].get<double>());
      }
    }
  }
  CMO_ASSIGN_OR_RETURN(auto plan, state.executor->Status());
  m.Family("cmo_plan_step", "gauge", "Current step (1-based) of each plan-driven op");
  for (const migrations::OpStatus& st : plan) {
    m.Sample("cmo_plan_step",
             {{"op", st.progress.op}, {"plan", st.progress.plan}, {"phase", st.progress.phase}},
             st.progress.step + 1);
  }
  // Only ops inside an unfinished step: a finished plan is not stuck, and one waiting for an
  // earlier phase is that phase's business.
  m.Family("cmo_plan_step_age_seconds", "gauge",
           "Time each plan-driven op has spent in its current, unfinished step");
  for (const migrations::OpStatus& st : plan) {
    if (st.progress.step < 0 || st.progress.step == st.steps - 1) continue;
    m.Sample("cmo_plan_step_age_seconds", {{"op", st.progress.op}},
             absl::ToDoubleSeconds(st.in_step));
  }
  m.Family("cmo_plan_paused", "gauge", "1 when an operator paused the op's plan");
  for (const migrations::OpStatus& st : plan) {
    m.Sample("cmo_plan_paused", {{"op", st.progress.op}}, st.progress.paused ? 1 : 0);
  }
  CMO_ASSIGN_OR_RETURN(auto jobs, reconcile::JobStore::Open(state.flags->db()));
  CMO_ASSIGN_OR_RETURN(auto list, jobs->List());
  m.Family("cmo_reconcile_buckets_done", "gauge", "Buckets done by the latest job per replica");
  m.Family("cmo_reconcile_buckets_total", "gauge", "Buckets to scan in that job");
  m.Family("cmo_reconcile_rows_scanned", "gauge", "Rows scanned by that job");
  m.Family("cmo_reconcile_healed", "gauge", "Rows healed by that job");
  for (const reconcile::ReconcileJob& j : list) {
    m.Sample("cmo_reconcile_buckets_done", {{"domain", j.domain}, {"region", j.region}},
             static_cast<double>(j.next_index));
    m.Sample("cmo_reconcile_buckets_total", {{"domain", j.domain}, {"region", j.region}},
             static_cast<double>(j.buckets.size()));
    m.Sample("cmo_reconcile_rows_scanned", {{"domain", j.domain}, {"region", j.region}},
             static_cast<double>(j.rows_scanned));
    m.Sample("cmo_reconcile_healed", {{"domain", j.domain}, {"region", j.region}},
             static_cast<double>(j.healed));
  }
  return absl::OkStatus();
}

void RenderDataPath(Server& server, Exposition& m) {
  const shadow::RelayMetrics relay = server.relay_metrics();
  m.Family("cmo_outbox_lag", "gauge",
           "Changes committed to the primary but not yet acked by Kafka");
  m.Sample("cmo_outbox_lag", {}, static_cast<double>(relay.outbox_lag));
  m.Family("cmo_primary_last_lsn", "gauge", "Last LSN the primary assigned");
  m.Sample("cmo_primary_last_lsn", {}, static_cast<double>(relay.last_lsn));
  m.Family("cmo_relay_published_total", "counter", "Changes acked by Kafka since start");
  m.Sample("cmo_relay_published_total", {}, static_cast<double>(relay.published));
  m.Family("cmo_relay_delivery_failures_total", "counter", "Failed deliveries (retried)");
  m.Sample("cmo_relay_delivery_failures_total", {}, static_cast<double>(relay.delivery_failures));
  if (const auto cdc = server.cdc_metrics(); cdc.has_value()) {
    m.Family("cmo_cdc_retained_wal_bytes", "gauge",
             "WAL the replication slot holds back on the source database");
    m.Sample("cmo_cdc_retained_wal_bytes", {}, static_cast<double>(cdc->retained_wal_bytes));
    m.Family("cmo_cdc_retained_wal_exceeded", "gauge",
             "1 while the slot holds back more WAL than cdc.max_retained_wal");
    m.Sample("cmo_cdc_retained_wal_exceeded", {}, cdc->retention_exceeded ? 1 : 0);
    m.Family("cmo_cdc_changes_total", "counter", "Row changes acked by Kafka since start");
    m.Sample("cmo_cdc_changes_total", {}, static_cast<double>(cdc->changes));
    m.Family("cmo_cdc_snapshot_done", "gauge", "1 once every followed table was snapshot");
    m.Sample("cmo_cdc_snapshot_done", {}, cdc->snapshot_done ? 1 : 0);
    m.Family("cmo_cdc_truncates_total", "counter",
             "TRUNCATEs of followed tables (not replicated: reconcile the domain)");
    m.Sample("cmo_cdc_truncates_total", {}, static_cast<double>(cdc->truncates));
    m.Family("cmo_cdc_stream_reconnects_total", "counter", "Replication stream reconnections");
    m.Sample("cmo_cdc_stream_reconnects_total", {}, static_cast<double>(cdc->reconnects));
  }
  const auto regions = server.regions();
  m.Family("cmo_replica_watermark", "gauge", "Highest LSN each region has applied in order");
  for (const auto& r : regions) {
    m.Sample("cmo_replica_watermark", {{"region", r.region}}, static_cast<double>(r.watermark));
  }
  m.Family("cmo_replication_lag_lsn", "gauge", "Changes the region is behind the primary");
  for (const auto& r : regions) {
    m.Sample("cmo_replication_lag_lsn", {{"region", r.region}},
             static_cast<double>(std::max<int64_t>(0, relay.last_lsn - r.watermark)));
  }
  m.Family("cmo_replication_lag_seconds", "histogram",
           "Apply time minus commit time of each change a region applied (first deliveries "
           "since its applier started)");
  for (const auto& r : regions) {
    m.Histogram("cmo_replication_lag_seconds", {{"region", r.region}}, shadow::kLagBucketsSeconds,
                r.applier.lag_buckets, r.applier.lag_count, r.applier.lag_sum_seconds);
  }
  // The lag that also grows while nothing is written: a stopped applier or a cut link shows
  // here (heartbeats stop being applied) though no change is late. No sample before the
  // region's first proof: no evidence is not a lag of 0.
  m.Family("cmo_replica_caught_up_age_seconds", "gauge",
           "How far the newest proof that the region had every change trails the clock");
  const absl::Time now = absl::Now();
  for (const auto& r : regions) {
    if (!r.applier.caught_up_to.has_value()) continue;
    m.Sample("cmo_replica_caught_up_age_seconds", {{"region", r.region}},
             absl::ToDoubleSeconds(now - *r.applier.caught_up_to));
  }
  // One series per region from a counter of its applier.
  auto per_region = [&](std::string_view name, std::string_view type, std::string_view help,
                        int64_t shadow::ApplierMetrics::*field) {
    m.Family(name, type, help);
    for (const auto& r : regions) {
      m.Sample(name, {{"region", r.region}}, static_cast<double>(r.applier.*field));
    }
  };
  per_region("cmo_applier_applied_total", "counter", "Changes applied per region since start",
             &shadow::ApplierMetrics::applied);
  per_region("cmo_applier_refused_total", "counter",
             "Change-log events refused per region: unsigned heartbeats, LSNs past the primary's",
             &shadow::ApplierMetrics::refused);
  per_region("cmo_applier_log_resets_total", "counter",
             "Times a region's applier found its change log lost (retention, an emptied cluster)",
             &shadow::ApplierMetrics::log_resets);
  per_region("cmo_applier_rejoins_total", "counter",
             "Times a region's applier rejoined its consumer group because a partition of its "
             "topics stood still while the others moved (left out of the group's assignment)",
             &shadow::ApplierMetrics::rejoins);
  per_region("cmo_applier_priority_applied_total", "counter",
             "Changes of priority tiers' writes applied per region through the priority channel",
             &shadow::ApplierMetrics::priority_applied);
  // The priority channel's own lag, which the replication-lag histogram mixes with the bulk's:
  // what a priority tier's members are promised (p99 over the applier's lag window; absent
  // without priority changes in it, as a stale figure is not an observation).
  m.Family("cmo_applier_priority_lag_p99_seconds", "gauge",
           "p99 of commit-to-applied lag of priority-channel changes in the last lag window");
  for (const auto& r : regions) {
    if (r.applier.priority_lag_samples == 0) continue;
    m.Sample("cmo_applier_priority_lag_p99_seconds", {{"region", r.region}},
             r.applier.priority_lag_p99_ms / 1000);
  }
  per_region("cmo_applier_awaiting_republish", "gauge",
             "Partitions whose log was lost and whose watermark waits for the relay to re-publish",
             &shadow::ApplierMetrics::awaiting_republish);
  if (auto c = server.control_metrics(); c.has_value()) {
    m.Family("cmo_telemetry_windows_total", "counter", "Client telemetry windows received");
    m.Sample("cmo_telemetry_windows_total", {}, static_cast<double>(c->telemetry_windows));
    m.Family("cmo_telemetry_refused_total", "counter",
             "Telemetry windows dropped: unsigned or wrongly signed");
    m.Sample("cmo_telemetry_refused_total", {}, static_cast<double>(c->telemetry_refused));
    m.Family("cmo_breaker_transitions_total", "counter", "Breaker transitions since start");
    m.Sample("cmo_breaker_transitions_total", {}, static_cast<double>(c->transitions));
    m.Family("cmo_shadow_mismatches_logged_total", "counter",
             "Shadow mismatches written to the divergence log");
    m.Sample("cmo_shadow_mismatches_logged_total", {}, static_cast<double>(c->mismatches_logged));
    m.Family("cmo_tier_heavy_writer_updates_total", "counter",
             "Times a top_k tier's published heaviest writers changed");
    m.Sample("cmo_tier_heavy_writer_updates_total", {},
             static_cast<double>(c->heavy_writer_updates));
    m.Family("cmo_tier_heavy_writer_errors_total", "counter",
             "Heaviest-writer refreshes that failed (retried; the members published last stay)");
    m.Sample("cmo_tier_heavy_writer_errors_total", {}, static_cast<double>(c->heavy_writer_errors));
  }
}

// The process_* series every Prometheus client library exports, under the same names.
void RenderBuild(Exposition& m) {
  m.Family("cmo_build_info", "gauge", "The running cmo: version and git revision (always 1)");
  m.Sample("cmo_build_info",
           {{"version", base::BuildVersion()}, {"revision", base::BuildRevision()}}, 1);
}

void RenderHttp(const HttpStats& http, Exposition& m) {
  m.Family("cmo_http_requests_total", "counter", "HTTP answers of the API by method and status");
  for (const HttpStats::Line& l : http.Counts()) {
    const std::string code = std::to_string(l.status);
    m.Sample("cmo_http_requests_total", {{"method", l.method}, {"code", code}},
             static_cast<double>(l.count));
  }
  const HttpStats::Histogram h = http.Durations();
  m.Family("cmo_http_request_duration_seconds", "histogram",
           "Time the API's handlers took to answer (after the request was read)");
  m.Histogram("cmo_http_request_duration_seconds", {}, HttpStats::kBuckets, h.cumulative, h.count,
              h.sum_seconds);
}

void RenderProcess(Exposition& m) {
  absl::StatusOr<base::ProcessStats> p = base::ReadProcessStats();
  if (!p.ok()) return;  // no /proc: nothing rather than zeros
  m.Family("process_start_time_seconds", "gauge", "Start time of the process since the epoch");
  m.Sample("process_start_time_seconds", {}, p->start_time_seconds);
  m.Family("process_cpu_seconds_total", "counter", "User and system CPU time spent");
  m.Sample("process_cpu_seconds_total", {}, p->cpu_seconds);
  m.Family("process_resident_memory_bytes", "gauge", "Resident memory size");
  m.Sample("process_resident_memory_bytes", {}, static_cast<double>(p->resident_memory_bytes));
  m.Family("process_virtual_memory_bytes", "gauge", "Virtual memory size");
  m.Sample("process_virtual_memory_bytes", {}, static_cast<double>(p->virtual_memory_bytes));
  m.Family("process_open_fds", "gauge", "Open file descriptors");
  m.Sample("process_open_fds", {}, static_cast<double>(p->open_fds));
  m.Family("process_max_fds", "gauge", "Limit on open file descriptors");
  m.Sample("process_max_fds", {}, static_cast<double>(p->max_fds));
}

void RenderWebhooks(const WebhookNotifier& webhooks, Exposition& m) {
  const WebhookMetrics w = webhooks.metrics();
  m.Family("cmo_webhook_notifications_total", "counter",
           "Webhook notifications by outcome: delivered, failed (gave up), dropped (queue full)");
  m.Sample("cmo_webhook_notifications_total", {{"result", "delivered"}},
           static_cast<double>(w.delivered));
  m.Sample("cmo_webhook_notifications_total", {{"result", "failed"}},
           static_cast<double>(w.failed));
  m.Sample("cmo_webhook_notifications_total", {{"result", "dropped"}},
           static_cast<double>(w.dropped));
  m.Family("cmo_webhook_retries_total", "counter", "Webhook delivery attempts that were retried");
  m.Sample("cmo_webhook_retries_total", {}, static_cast<double>(w.retries));
  m.Family("cmo_webhook_queued", "gauge", "Webhook notifications waiting or in flight");
  m.Sample("cmo_webhook_queued", {}, static_cast<double>(w.queued));
}

// How far the region's newest proof of having every change (the commit time of the newest
// change applied, or the send time of the newest heartbeat) trails the clock; null until the
// first proof, which is what a script waits for before trusting the region's lag.
nlohmann::json CaughtUpAgeMs(const shadow::ApplierMetrics& m, absl::Time now) {
  if (!m.caught_up_to.has_value()) return nullptr;
  return absl::ToInt64Milliseconds(now - *m.caught_up_to);
}

}  // namespace

std::string SampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double: a stream's default six digits
  // would print a counter of 1234567 as 1.23457e+06.
  char buf[32];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

absl::StatusOr<std::string> RenderMetrics(ControlState& state, Server* data_path,
                                          const WebhookNotifier* webhooks, const HttpStats* http) {
  Exposition m;
  RenderBuild(m);
  if (http != nullptr) RenderHttp(*http, m);
  CMO_RETURN_IF_ERROR(RenderControl(state, m));
  if (data_path != nullptr) RenderDataPath(*data_path, m);
  if (webhooks != nullptr) RenderWebhooks(*webhooks, m);
  RenderProcess(m);
  return m.str();
}

nlohmann::json DataPathJson(Server* data_path) {
  if (data_path == nullptr) return {{"data_path", false}};
  const shadow::RelayMetrics relay = data_path->relay_metrics();
  nlohmann::json regions = nlohmann::json::array();
  const absl::Time now = absl::Now();
  for (const auto& r : data_path->regions()) {
    regions.push_back({{"region", r.region},
                       {"watermark", r.watermark},
                       {"lag_lsn", std::max<int64_t>(0, relay.last_lsn - r.watermark)},
                       {"lag_p50_ms", r.applier.lag_p50_ms},
                       {"lag_p99_ms", r.applier.lag_p99_ms},
                       {"bulk_lag_p99_ms", r.applier.bulk_lag_p99_ms},
                       {"priority_lag_p99_ms", r.applier.priority_lag_p99_ms},
                       {"priority_applied", r.applier.priority_applied},
                       {"applied", r.applier.applied},
                       {"refused", r.applier.refused},
                       {"log_resets", r.applier.log_resets},
                       {"rejoins", r.applier.rejoins},
                       {"awaiting_republish", r.applier.awaiting_republish},
                       {"caught_up_age_ms", CaughtUpAgeMs(r.applier, now)}});
  }
  nlohmann::json out = {{"data_path", true},
                        {"last_lsn", relay.last_lsn},
                        {"published_through", relay.published_through},
                        {"outbox_lag", relay.outbox_lag},
                        {"regions", regions},
                        {"reconcile_passes", data_path->reconcile_passes()}};
  if (auto c = data_path->control_metrics(); c.has_value()) {
    out["telemetry_windows"] = c->telemetry_windows;
    out["telemetry_refused"] = c->telemetry_refused;
    out["breaker_transitions"] = c->transitions;
  }
  return out;
}

}  // namespace cmo::orchestrator::api_internal
