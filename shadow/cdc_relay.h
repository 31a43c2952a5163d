// The relay's second source: instead of cmo's outbox, an app's own PostgreSQL tables, followed
// through a logical replication slot (pgoutput over a publication the operator created). The
// app's write path stays untouched; deletes are captured; the version of every change is the
// commit LSN the leader already assigned (shadow/README.md, "Change data capture").
//
//   first start:  create the slot (exporting its snapshot S at position P)
//                 snapshot every table at S, in key order, throttled: rows versioned P - 1
//   then:         stream from the slot; each committed transaction, whole, in commit order:
//                 its last change per key, versioned by its commit LSN ──► Kafka
//                 heartbeats: every commit below the stream's position is acknowledged
//                 slot confirmed ◄── only what Kafka acknowledged and every region applied
//
// The slot is the outbox here: like the outbox relay, which trims only what every region
// applied, the relay confirms to the slot only what every region applied, so a change log lost
// with Kafka (the embedded cluster restarts empty) is streamed again from the slot. The cost is
// the outbox's too: the source keeps WAL while a region is down (max_retained_wal_bytes says
// when to act). Likewise a region that has not applied the snapshot (a new region, or a log
// lost before it got there) makes the next start snapshot again.
//
// Resumable: a kill -9 during the snapshot resumes after the last key Kafka acknowledged, at a
// new snapshot. That is still right: the slot has not moved past P, so every change committed
// since P is streamed after the snapshot, at a version above the snapshot's rows.
#ifndef CMO_SHADOW_CDC_RELAY_H_
#define CMO_SHADOW_CDC_RELAY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/kafka.h"
#include "base/message_auth.h"
#include "base/pg_replication.h"
#include "base/postgres.h"
#include "shadow/outbox_relay.h"
#include "shadow/pgoutput.h"

namespace cmo::shadow {

// One followed table (a plan's `domains: [{name, source: {table, key}}]`).
struct CdcTable {
  std::string domain;
  std::string table;             // schema.name
  std::vector<std::string> key;  // its primary key's columns
  std::string subject;           // optional: the column that names the row's user
};

struct CdcOptions {
  std::string slot = "cmo_cdc";
  std::string publication = "cmo_cdc";
  std::vector<CdcTable> tables;
  std::string state_schema = "cmo";  // where the snapshot's progress is kept, on the source
  int max_in_flight = 50'000;        // unacknowledged changes: backpressure on the slot
  int snapshot_chunk = 2'000;        // rows per snapshot query
  double snapshot_rows_per_s = 0;    // 0: unthrottled
  // Status updates (the slot's confirmed position, and a request for the server's position,
  // which moves watermarks while the tables are idle) go out this often.
  absl::Duration status_interval = absl::Milliseconds(100);
  absl::Duration heartbeat_interval = absl::Milliseconds(50);
  absl::Duration idle_heartbeat_interval = absl::Seconds(1);
  absl::Duration retention_check_interval = absl::Seconds(1);  // and min_applied's
  absl::Duration request_check_interval = absl::Milliseconds(100);
  // WAL the slot may hold back on the source before the relay reports it (metrics, the log):
  // a stalled relay makes the leader keep every WAL segment since, until its disk is full.
  int64_t max_retained_wal_bytes = int64_t{4} << 30;
  std::shared_ptr<const base::KeyRing> keys = nullptr;  // signs heartbeats
};

struct CdcMetrics {
  bool snapshot_done = false;
  int64_t snapshot_rows = 0;      // published by the snapshot since start
  int64_t snapshot_lsn = 0;       // the slot's start: snapshot rows carry this minus one
  int64_t received_lsn = 0;       // every commit below this has been received from the slot
  int64_t published_through = 0;  // what heartbeats claim
  int64_t confirmed_lsn = 0;      // sent to the slot
  int64_t min_applied = -1;       // every region's watermark, the last read (-1: not asked)
  int64_t resnapshots = 0;        // times a region was found short of the snapshot
  int64_t republications = 0;     // re-publication requests answered
  int64_t in_flight = 0;
  int64_t transactions = 0;
  int64_t changes = 0;     // published, re-sends included
  int64_t refetches = 0;   // rows read again for a TOASTed value pgoutput left out
  int64_t truncates = 0;   // TRUNCATEs seen (not replicated: see shadow/README.md)
  int64_t reconnects = 0;  // of the replication stream
  int64_t retained_wal_bytes = 0;
  bool retention_exceeded = false;
};

// Not thread-safe: Step() from one thread.
class CdcRelay {
 public:
  // `source` is the app's database (postgresql://...). kFailedPrecondition, saying what to do,
  // when the publication is missing or lacks a table, a table has no usable key, or the
  // server is not set up for logical replication.
  // `min_applied` (the lowest watermark of every region; nullptr: trust Kafka's
  // acknowledgement alone) bounds what the slot is told.
  static absl::StatusOr<std::unique_ptr<CdcRelay>> Create(const std::string& source,
                                                          const base::KafkaConfig& kafka,
                                                          OutboxRelay::EnsureTopic ensure_topic,
                                                          OutboxRelay::MinApplied min_applied,
                                                          const base::Clock& clock,
                                                          CdcOptions options);
  ~CdcRelay();

  // Snapshots a chunk, or streams for up to `timeout_ms`; serves acknowledgements, sends
  // heartbeats and status updates. kUnavailable when the source is away: call again (it
  // reconnects and resumes from the slot).
  absl::Status Step(int timeout_ms);
  absl::Status Flush(int timeout_ms);
  CdcMetrics metrics() const { return metrics_; }

  // What an applier that found its change log lost calls (Applier::OnLogLoss): files a
  // re-publication request in the source's state schema and returns its number. The relay
  // answers by streaming again from the slot (confirmed only to what every region applied),
  // snapshotting again first if a region had not applied the snapshot.
  static absl::StatusOr<int64_t> RequestRepublish(const std::string& source,
                                                  const CdcOptions& options);

  // For ApplierOptions::lsn_ceiling: the source's current WAL insert position. Every version
  // the relay sends (commit positions, the snapshot's, heartbeats' claims) is below it, so an
  // event above it is forged or corrupt — stored, it would outrank every real change to come.
  // Its own connection, opened on first use and again after it broke; call from one thread.
  static std::function<absl::StatusOr<int64_t>()> LsnCeiling(const std::string& source);

 private:
  struct Impl;
  explicit CdcRelay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  CdcMetrics metrics_;
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_CDC_RELAY_H_
