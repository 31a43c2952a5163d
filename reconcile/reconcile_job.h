// Reconciliation as a job that survives kill -9 and can be steered while it runs: the list of
// differing buckets is fixed when the job starts, progress is checkpointed in the control
// database every few buckets, and an operator can pause, resume or re-throttle it from another
// process (`cmo reconcile pause|resume|throttle`). Re-running a bucket after a crash is
// harmless: repairs are compare-and-set and heal to the same state.
//
//   running ──pause──► paused ──resume──► running ──last bucket──► done
#ifndef CMO_RECONCILE_RECONCILE_JOB_H_
#define CMO_RECONCILE_RECONCILE_JOB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/sql.h"
#include "reconcile/reconciler.h"

namespace cmo::reconcile {

struct ReconcileJob {
  std::string domain;
  std::string region;
  std::string state = "running";  // running | paused | done
  std::vector<uint32_t> buckets;  // the differing buckets found when the job started
  int64_t next_index = 0;         // buckets[0, next_index) are done
  int64_t rows_scanned = 0;
  int64_t found = 0;
  int64_t healed = 0;
  int64_t in_flight = 0;
  int64_t max_rows_per_s = 0;  // 0: unthrottled
  int64_t max_lag_lsn = 0;     // pause while the replica is further behind (0: never)
  std::string waiting;         // why the job is not progressing right now ("" if it is)
  absl::Time started = absl::UnixEpoch();
  absl::Time updated = absl::UnixEpoch();
};

// Jobs in the control database (component "reconcile_jobs"). Borrows the connection; not
// thread-safe. The runner writes progress columns only and operators the control columns
// (state, throttle), so neither overwrites the other.
class JobStore {
 public:
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(base::SqlDb& db);
  absl::StatusOr<std::optional<ReconcileJob>> Get(const std::string& domain,
                                                  const std::string& region);
  absl::StatusOr<std::vector<ReconcileJob>> List();
  absl::Status Create(const ReconcileJob& job);  // replaces a finished or abandoned one
  absl::Status SaveProgress(const ReconcileJob& job);
  // Operators: kNotFound when no such job. state: "paused" or "running".
  absl::Status SetState(const std::string& domain, const std::string& region,
                        const std::string& state);
  absl::Status SetThrottle(const std::string& domain, const std::string& region,
                           int64_t max_rows_per_s);

 private:
  explicit JobStore(base::SqlDb& db) : db_(db) {}
  base::SqlDb& db_;
};

struct JobRunOptions {
  ReconcileOptions reconcile;
  std::string region;
  int buckets_per_step = 8;  // between checkpoints (and throttle/pause checks)
  bool restart = false;      // start over even if an unfinished job exists
  int64_t max_rows_per_s = 0;
  int64_t max_lag_lsn = 0;
  // The replica's current lag in LSNs (primary last LSN - replica watermark).
  std::function<absl::StatusOr<int64_t>()> replica_lag;
  // Called with each step's findings (to log them), after they are healed.
  std::function<absl::Status(const std::vector<KeyDiff>&)> on_findings;
  absl::Duration poll = absl::Milliseconds(200);  // while paused or waiting for lag
  // Checked between steps: true stops the run where it is (checkpointed; the next run resumes).
  std::function<bool()> should_stop;
};

// Runs (or resumes) the job of (domain, region) to the end (or until should_stop); returns it.
absl::StatusOr<ReconcileJob> RunJob(JobStore& jobs, store::PrimaryStore& primary,
                                    store::ReplicaStore& replica, const JobRunOptions& options,
                                    const base::Clock& clock);

}  // namespace cmo::reconcile

#endif  // CMO_RECONCILE_RECONCILE_JOB_H_
