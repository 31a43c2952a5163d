#include "reconcile/reconcile_job.h"

#include <algorithm>

#include "base/json.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "nlohmann/json.hpp"

namespace cmo::reconcile {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE reconcile_jobs (
  domain TEXT NOT NULL, region TEXT NOT NULL, state TEXT NOT NULL, buckets TEXT NOT NULL,
  next_index INTEGER NOT NULL, rows_scanned INTEGER NOT NULL, found INTEGER NOT NULL,
  healed INTEGER NOT NULL, in_flight INTEGER NOT NULL, max_rows_per_s INTEGER NOT NULL,
  max_lag_lsn INTEGER NOT NULL, waiting TEXT NOT NULL, started_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL, PRIMARY KEY (domain, region)) STRICT;
)sql";

constexpr std::string_view kPgSchema = R"sql(
CREATE TABLE reconcile_jobs (
  domain TEXT NOT NULL, region TEXT NOT NULL, state TEXT NOT NULL, buckets TEXT NOT NULL,
  next_index BIGINT NOT NULL, rows_scanned BIGINT NOT NULL, found BIGINT NOT NULL,
  healed BIGINT NOT NULL, in_flight BIGINT NOT NULL, max_rows_per_s BIGINT NOT NULL,
  max_lag_lsn BIGINT NOT NULL, waiting TEXT NOT NULL, started_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL, PRIMARY KEY (domain, region));
)sql";

constexpr char kSelect[] =
    "SELECT domain, region, state, buckets, next_index, rows_scanned, found, healed, in_flight, "
    "max_rows_per_s, max_lag_lsn, waiting, started_ms, updated_ms FROM reconcile_jobs";

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(base::SqlDb& db) {
  CMO_RETURN_IF_ERROR(base::MigrateSchema(db, "reconcile_jobs", {kSchema}, {kPgSchema}));
  return std::unique_ptr<JobStore>(new JobStore(db));
}

absl::StatusOr<std::vector<ReconcileJob>> JobStore::List() {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_.Prepared(std::string(kSelect) + " ORDER BY domain, region"));
  base::SqlStatement::Scope s(*stmt);
  std::vector<ReconcileJob> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] {
    ReconcileJob j;
    j.domain = s->ColumnText(0);
    j.region = s->ColumnText(1);
    j.state = s->ColumnText(2);
    nlohmann::json b = nlohmann::json::parse(s->ColumnText(3), nullptr, false);
    if (b.is_array()) {
      for (const auto& x : b) j.buckets.push_back(x.get<uint32_t>());
    }
    j.next_index = s->ColumnInt(4);
    j.rows_scanned = s->ColumnInt(5);
    j.found = s->ColumnInt(6);
    j.healed = s->ColumnInt(7);
    j.in_flight = s->ColumnInt(8);
    j.max_rows_per_s = s->ColumnInt(9);
    j.max_lag_lsn = s->ColumnInt(10);
    j.waiting = s->ColumnText(11);
    j.started = absl::FromUnixMillis(s->ColumnInt(12));
    j.updated = absl::FromUnixMillis(s->ColumnInt(13));
    out.push_back(std::move(j));
  }));
  return out;
}

absl::StatusOr<std::optional<ReconcileJob>> JobStore::Get(const std::string& domain,
                                                          const std::string& region) {
  CMO_ASSIGN_OR_RETURN(std::vector<ReconcileJob> all, List());
  for (ReconcileJob& j : all) {
    if (j.domain == domain && j.region == region) return std::optional<ReconcileJob>(std::move(j));
  }
  return std::optional<ReconcileJob>();
}

absl::Status JobStore::Create(const ReconcileJob& j) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("INSERT INTO reconcile_jobs (domain, region, state, buckets, next_index, "
                   "rows_scanned, found, healed, in_flight, max_rows_per_s, max_lag_lsn, "
                   "waiting, started_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                   "?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT (domain, region) DO UPDATE SET "
                   "state = ?3, buckets = ?4, next_index = ?5, rows_scanned = ?6, found = ?7, "
                   "healed = ?8, in_flight = ?9, max_rows_per_s = ?10, max_lag_lsn = ?11, "
                   "waiting = ?12, started_ms = ?13, updated_ms = ?14"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, j.domain)
      .Bind(2, j.region)
      .Bind(3, j.state)
      .Bind(4, base::JsonText(nlohmann::json(j.buckets)))
      .Bind(5, j.next_index)
      .Bind(6, j.rows_scanned)
      .Bind(7, j.found)
      .Bind(8, j.healed)
      .Bind(9, j.in_flight)
      .Bind(10, j.max_rows_per_s)
      .Bind(11, j.max_lag_lsn)
      .Bind(12, j.waiting)
      .Bind(13, absl::ToUnixMillis(j.started))
      .Bind(14, absl::ToUnixMillis(j.updated));
  return s->Run();
}

absl::Status JobStore::SaveProgress(const ReconcileJob& j) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("UPDATE reconcile_jobs SET next_index = ?3, rows_scanned = ?4, found = ?5, "
                   "healed = ?6, in_flight = ?7, waiting = ?8, updated_ms = ?9, state = CASE WHEN "
                   "?10 = 1 THEN 'done' ELSE state END WHERE domain = ?1 AND region = ?2"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, j.domain)
      .Bind(2, j.region)
      .Bind(3, j.next_index)
      .Bind(4, j.rows_scanned)
      .Bind(5, j.found)
      .Bind(6, j.healed)
      .Bind(7, j.in_flight)
      .Bind(8, j.waiting)
      .Bind(9, absl::ToUnixMillis(j.updated))
      .Bind(10, int64_t{j.state == "done"});
  return s->Run();
}

absl::Status JobStore::SetState(const std::string& domain, const std::string& region,
                                const std::string& state) {
  CMO_ASSIGN_OR_RETURN(std::optional<ReconcileJob> j, Get(domain, region));
  if (!j.has_value()) {
    return absl::NotFoundError(base::StrCat("no reconciliation job for ", domain, " in ", region,
                                            "; `cmo reconcile status` lists them"));
  }
  if (j->state == "done") {
    return absl::FailedPreconditionError(base::StrCat("the job for ", domain, " in ", region,
                                                      " is done; start a new one with "
                                                      "`cmo reconcile run`"));
  }
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_.Prepared("UPDATE reconcile_jobs SET state = ?3 WHERE domain = ?1 AND "
                                    "region = ?2 AND state != 'done'"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, domain).Bind(2, region).Bind(3, state);
  return s->Run();
}

absl::Status JobStore::SetThrottle(const std::string& domain, const std::string& region,
                                   int64_t max_rows_per_s) {
  CMO_ASSIGN_OR_RETURN(std::optional<ReconcileJob> j, Get(domain, region));
  if (!j.has_value()) {
    return absl::NotFoundError(base::StrCat("no reconciliation job for ", domain, " in ", region));
  }
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_.Prepared("UPDATE reconcile_jobs SET max_rows_per_s = ?3 WHERE domain = "
                                    "?1 AND region = ?2"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, domain).Bind(2, region).Bind(3, max_rows_per_s);
  return s->Run();
}

absl::StatusOr<ReconcileJob> RunJob(JobStore& jobs, store::PrimaryStore& primary,
                                    store::ReplicaStore& replica, const JobRunOptions& o,
                                    const base::Clock& clock) {
  const std::string& domain = o.reconcile.domain;
  CMO_RETURN_IF_ERROR(CheckTombstoneHorizon(primary, o.reconcile));
  CMO_ASSIGN_OR_RETURN(std::optional<ReconcileJob> existing, jobs.Get(domain, o.region));
  ReconcileJob job;
  if (existing.has_value() && existing->state != "done" && !o.restart) {
    job = *std::move(existing);  // resume where the last run stopped (a crash, a kill)
  } else {
    job.domain = domain;
    job.region = o.region;
    CMO_ASSIGN_OR_RETURN(job.buckets, DifferingBuckets(primary, replica, domain));
    job.max_rows_per_s = o.max_rows_per_s;
    job.max_lag_lsn = o.max_lag_lsn;
    job.started = job.updated = clock.Now();
    CMO_RETURN_IF_ERROR(jobs.Create(job));
  }
  const absl::Time run_start = clock.Now();
  int64_t rows_this_run = 0;
  while (job.next_index < static_cast<int64_t>(job.buckets.size())) {
    if (o.should_stop && o.should_stop()) return job;
    // Operators steer the job through its row: re-read the control columns every step.
    CMO_ASSIGN_OR_RETURN(std::optional<ReconcileJob> control, jobs.Get(domain, o.region));
    if (control.has_value()) {
      job.state = control->state;
      job.max_rows_per_s = control->max_rows_per_s;
    }
    std::string waiting;
    if (job.state == "paused") {
      waiting = "paused by an operator";
    } else if (job.max_lag_lsn > 0 && o.replica_lag) {
      CMO_ASSIGN_OR_RETURN(int64_t lag, o.replica_lag());
      if (lag > job.max_lag_lsn) {
        waiting = base::StrCat("replica ", lag, " LSNs behind (bound ", job.max_lag_lsn, ")");
      }
    }
    if (!waiting.empty()) {
      if (waiting != job.waiting) {
        job.waiting = waiting;
        job.updated = clock.Now();
        CMO_RETURN_IF_ERROR(jobs.SaveProgress(job));
      }
      clock.SleepFor(o.poll);
      continue;
    }
    const size_t from = static_cast<size_t>(job.next_index);
    const size_t to = std::min(job.buckets.size(), from + static_cast<size_t>(o.buckets_per_step));
    CMO_ASSIGN_OR_RETURN(
        ReconcileReport step,
        ReconcileBuckets(primary, replica,
                         std::span<const uint32_t>(job.buckets).subspan(from, to - from),
                         o.reconcile, clock));
    if (o.on_findings) CMO_RETURN_IF_ERROR(o.on_findings(step.diffs));
    job.next_index = static_cast<int64_t>(to);
    job.rows_scanned += step.rows_scanned;
    job.found += static_cast<int64_t>(step.diffs.size());
    job.healed += step.healed;
    job.in_flight += step.in_flight;
    job.waiting.clear();
    job.updated = clock.Now();
    if (job.next_index == static_cast<int64_t>(job.buckets.size())) job.state = "done";
    CMO_RETURN_IF_ERROR(jobs.SaveProgress(job));
    rows_this_run += step.rows_scanned;
    if (job.max_rows_per_s > 0) {
      // Sleep off whatever this run is ahead of its allowance.
      const absl::Duration due = absl::Seconds(static_cast<double>(rows_this_run) /
                                               static_cast<double>(job.max_rows_per_s));
      const absl::Duration spent = clock.Now() - run_start;
      if (due > spent) clock.SleepFor(due - spent);
    }
  }
  if (job.state != "done") {  // nothing differed, or it stopped right after the last step
    job.state = "done";
    job.updated = clock.Now();
    CMO_RETURN_IF_ERROR(jobs.SaveProgress(job));
  }
  return job;
}

}  // namespace cmo::reconcile
