// GET /v1/divergence, POST /v1/reconcile (a checkpointed job per region), GET /v1/reconcile.
#include <algorithm>
#include <cmath>

#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/api/internal/handlers.h"
#include "reconcile/divergence_log.h"
#include "reconcile/reconcile_job.h"
#include "reconcile/reconciler.h"
#include "reconcile/report.h"
#include "shadow/change_event.h"
#include "shadow/deployment_stores.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::orchestrator::api_internal {
namespace {

nlohmann::json DiffJson(const reconcile::KeyDiff& d) {
  return {{"key", d.key},
          {"class", reconcile::DiffClassName(d.diff_class)},
          {"primary_lsn", d.primary_lsn},
          {"replica_lsn", d.replica_lsn},
          {"in_flight", d.in_flight},
          {"heal", d.heal}};
}

struct ReconcileRequest {
  std::string domain;
  std::vector<std::string> regions;
  bool dry_run = false;
  bool restart = false;
  int64_t max_rows_per_s = 0;
  int64_t max_lag = 0;
  reconcile::HealPolicy policy;
  std::string policy_name;
  absl::Duration staleness_window;
};

absl::StatusOr<ReconcileRequest> ParseRequest(const Context& c) {
  ReconcileRequest r;
  auto domain = BodyString(c.call, "domain", true);
  if (!domain.ok()) return domain.status();
  r.domain = *domain;
  if (c.call.body.contains("regions")) {
    const nlohmann::json& regions = c.call.body["regions"];
    if (!regions.is_array()) {
      return absl::InvalidArgumentError("request body: \"regions\" must be an array of names");
    }
    for (const nlohmann::json& region : regions) {
      if (!region.is_string()) {
        return absl::InvalidArgumentError("request body: \"regions\" must be an array of names");
      }
      r.regions.push_back(region.get<std::string>());
    }
  }
  auto dry_run = BodyBool(c.call, "dry_run");
  auto restart = BodyBool(c.call, "restart");
  auto rows = BodyInt(c.call, "max_rows_per_s", 0);
  auto lag = BodyInt(c.call, "max_lag", 0);
  auto policy = BodyString(c.call, "policy", false, "primary_wins");
  auto window = BodyString(c.call, "staleness_window", false, "30s");
  if (!dry_run.ok()) return dry_run.status();
  if (!restart.ok()) return restart.status();
  if (!rows.ok()) return rows.status();
  if (!lag.ok()) return lag.status();
  if (!policy.ok()) return policy.status();
  if (!window.ok()) return window.status();
  if (*rows < 0 || *lag < 0) {
    return absl::InvalidArgumentError("max_rows_per_s and max_lag must not be negative");
  }
  r.dry_run = *dry_run;
  r.restart = *restart;
  r.max_rows_per_s = *rows;
  r.max_lag = *lag;
  auto heal = reconcile::ParseHealPolicy(*policy);
  if (!heal.ok()) return heal.status();
  r.policy = *heal;
  r.policy_name = *policy;
  auto staleness = base::ParseDuration(*window);
  if (!staleness.ok()) return staleness.status();
  r.staleness_window = *staleness;
  if (r.regions.empty()) r.regions = shadow::ReplicaRegions(c.state_dir);
  if (r.regions.empty()) {
    return absl::FailedPreconditionError(
        base::StrCat("no replica in ", c.state_dir, "; run `cmo serve` first, or name a region"));
  }
  return r;
}

absl::StatusOr<nlohmann::json> ReconcileRegion(const Context& c, const ReconcileRequest& rq,
                                               const std::string& region,
                                               store::PrimaryStore& primary,
                                               reconcile::DivergenceLog& log,
                                               reconcile::JobStore& jobs) {
  auto replica = shadow::OpenReplica(c.state_dir, region);
  if (!replica.ok()) return replica.status();
  const std::string topic = shadow::ChangeTopic(rq.domain);
  auto watermark = shadow::DomainWatermark(**replica, rq.domain);
  auto partitions = (*replica)->TopicPartitions(topic);
  if (!watermark.ok()) return watermark.status();
  if (!partitions.ok()) return partitions.status();
  reconcile::ReconcileOptions ro{rq.domain, rq.policy, rq.dry_run, *watermark, rq.staleness_window};
  std::vector<reconcile::KeyDiff> found;
  reconcile::ReconcileReport report;
  if (rq.dry_run) {
    auto r = reconcile::Reconcile(primary, **replica, ro, c.clock);
    if (!r.ok()) return r.status();
    report = *std::move(r);
    found = report.diffs;
  } else {
    // A checkpointed job: resumes after a kill, obeys pause/resume/throttle from other
    // processes, and logs findings as it goes.
    reconcile::JobRunOptions jo;
    jo.reconcile = ro;
    jo.region = region;
    jo.restart = rq.restart;
    jo.max_rows_per_s = rq.max_rows_per_s;
    jo.max_lag_lsn = rq.max_lag;
    store::PrimaryStore* p = &primary;
    store::ReplicaStore* rep = replica->get();
    jo.replica_lag = [p, rep, domain = rq.domain]() -> absl::StatusOr<int64_t> {
      absl::StatusOr<int64_t> last = p->LastLsn();
      absl::StatusOr<int64_t> w = shadow::DomainWatermark(*rep, domain);
      if (!last.ok()) return last.status();
      if (!w.ok()) return w.status();
      return *last - *w;
    };
    const int32_t parts = *partitions;
    jo.on_findings = [&](const std::vector<reconcile::KeyDiff>& diffs) -> absl::Status {
      std::vector<reconcile::DivergenceRecord> records;
      const absl::Time now = c.clock.Now();
      for (const reconcile::KeyDiff& d : diffs) {
        found.push_back(d);
        if (!d.in_flight) {
          records.push_back(reconcile::FromKeyDiff(
              d, region, parts > 0 ? shadow::PartitionOf(d.key, parts) : -1, now));
        }
      }
      return log.Append(records);
    };
    auto job = reconcile::RunJob(jobs, primary, **replica, jo, c.clock);
    if (!job.ok()) return job.status();
    report.buckets = int64_t{1} << primary.digest_bits();
    report.differing_buckets = static_cast<int64_t>(job->buckets.size());
    report.rows_scanned = job->rows_scanned;
    report.healed = job->healed;
    report.in_flight = job->in_flight;
    report.find_and_heal_ms = absl::ToDoubleMilliseconds(job->updated - job->started);
  }
  nlohmann::json diffs = nlohmann::json::array();
  for (const reconcile::KeyDiff& d : found) diffs.push_back(DiffJson(d));
  return nlohmann::json{{"region", region},
                        {"domain", rq.domain},
                        {"dry_run", rq.dry_run},
                        {"policy", rq.policy_name},
                        {"buckets", report.buckets},
                        {"differing_buckets", report.differing_buckets},
                        {"rows_scanned", report.rows_scanned},
                        {"found", found.size()},
                        {"healed", report.healed},
                        {"in_flight", report.in_flight},
                        {"digest_compare_ms", report.digest_compare_ms},
                        {"find_and_heal_ms", report.find_and_heal_ms},
                        {"diffs", diffs}};
}

}  // namespace

absl::StatusOr<nlohmann::json> Reconcile(const Context& c) {
  auto rq = ParseRequest(c);
  if (!rq.ok()) return rq.status();
  auto log = reconcile::DivergenceLog::Open(c.state.flags->db());
  if (!log.ok()) return log.status();
  auto jobs = reconcile::JobStore::Open(c.state.flags->db());
  if (!jobs.ok()) return jobs.status();
  auto primary = shadow::OpenPrimary(c.state_dir, c.clock);
  if (!primary.ok()) return primary.status();
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& region : rq->regions) {
    auto one = ReconcileRegion(c, *rq, region, **primary, **log, **jobs);
    if (!one.ok()) return one.status();
    out.push_back(*std::move(one));
  }
  return out;
}

absl::StatusOr<nlohmann::json> ReconcileJobs(const Context& c) {
  auto jobs = reconcile::JobStore::Open(c.state.flags->db());
  if (!jobs.ok()) return jobs.status();
  auto list = (*jobs)->List();
  if (!list.ok()) return list.status();
  nlohmann::json out = nlohmann::json::array();
  for (const reconcile::ReconcileJob& j : *list) {
    const double secs = absl::ToDoubleSeconds(j.updated - j.started);
    const double rate = secs > 0 ? static_cast<double>(j.rows_scanned) / secs : 0;
    const int64_t total = static_cast<int64_t>(j.buckets.size());
    std::string eta = "-";
    if (j.state != "done" && j.next_index > 0 && secs > 0) {
      eta = base::HumanDuration(absl::Seconds(secs / static_cast<double>(j.next_index) *
                                              static_cast<double>(total - j.next_index)));
    }
    out.push_back({{"domain", j.domain},
                   {"region", j.region},
                   {"state", j.state},
                   {"buckets_done", j.next_index},
                   {"buckets_total", total},
                   {"rows_scanned", j.rows_scanned},
                   {"rows_per_s", std::round(rate)},
                   {"found", j.found},
                   {"healed", j.healed},
                   {"max_rows_per_s", j.max_rows_per_s},
                   {"eta", eta},
                   {"waiting", j.waiting}});
  }
  return out;
}

absl::StatusOr<nlohmann::json> Divergence(const Context& c) {
  auto since = base::ParseDuration(Query(c.call, "since", "24h"));
  if (!since.ok()) return since.status();
  auto log = reconcile::DivergenceLog::Open(c.state.flags->db());
  if (!log.ok()) return log.status();
  const absl::Time now = c.clock.Now();
  reconcile::DivergenceQuery q;
  q.subject = Query(c.call, "user");
  q.op = Query(c.call, "op");
  q.since = now - *since;
  auto records = log->get()->Find(q);
  if (!records.ok()) return records.status();
  std::string title = "Divergences";
  if (!q.subject.empty()) title += " for user " + q.subject;
  if (!q.op.empty()) title += " in op " + q.op;
  title += " in the last " + base::FormatDuration(*since);
  return nlohmann::json::parse(
      reconcile::RenderReport(*records, reconcile::ReportFormat::kJson, {title, now}));
}

}  // namespace cmo::orchestrator::api_internal
