// Reconciliation of a domain followed by change data capture: the source of truth is the app's
// own table, which has no version column and no digests of cmo's. So both sides are summed
// into value digests per bucket (RowHash of key and value, version left out) by scanning: the
// table in key-ordered chunks of SQL (throttled; no trigger in the app's schema), the replica
// by its own scan. Only buckets whose sums differ are compared row by row, and a second scan of
// the table collects their keys.
//
// Healing a key, from the source row read again by key (shadow/cdc_source_reader.h): the read
// position P bounds every commit the row reflects. The key is repaired only once the replica's
// watermark holds every commit below P — a difference still there is not lag — and with version
// P - 1, so every later change (committed at or past P) still overwrites it. The repair is
// compare-and-set on the replica row's version: a change applied meanwhile wins.
#ifndef CMO_ORCHESTRATOR_SERVICE_CDC_RECONCILE_H_
#define CMO_ORCHESTRATOR_SERVICE_CDC_RECONCILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "shadow/cdc_relay.h"
#include "store/replica_store.h"

namespace cmo::orchestrator {

struct CdcReconcileOptions {
  std::string source;         // the app's database
  shadow::CdcTable table;     // the followed table of the domain
  int chunk = 5'000;          // rows per SQL query
  double max_rows_per_s = 0;  // 0: unthrottled (source rows read)
  bool dry_run = false;
  // How long a key's repair waits for the replica to hold every commit below its read position.
  absl::Duration max_wait = absl::Seconds(30);
};

struct CdcReconcileReport {
  int64_t source_rows = 0;
  int64_t replica_rows = 0;  // live rows
  int64_t buckets = 0;
  int64_t differing_buckets = 0;
  int64_t missing = 0;      // in the table, not live on the replica
  int64_t resurrected = 0;  // live on the replica, not in the table
  int64_t divergent = 0;    // in both, other values
  int64_t settled = 0;      // differed at the scan, equal once the replica caught up (lag)
  int64_t healed = 0;
  std::vector<std::string> sample;  // up to 20 keys found, with their class
  double seconds = 0;
};

// kFailedPrecondition when the table cannot be followed (cdc_tables.h); kDeadlineExceeded when
// the replica did not catch up within max_wait for a key to repair.
absl::StatusOr<CdcReconcileReport> ReconcileCdcDomain(store::ReplicaStore& replica,
                                                      const CdcReconcileOptions& options,
                                                      const base::Clock& clock);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_CDC_RECONCILE_H_
