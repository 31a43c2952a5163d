// The client library apps link (flags + store + shadow + base; never the orchestrator).
//
//   auto client = cmo::shadow::Client::Open({.state_dir = "/var/lib/cmo", .region = "eu-west"});
//   auto w = (*client)->Write("comment.post", "user-42", "c-123", "hello");
//   // carry w->token in the session (cookie, header); on the next request:
//   auto r = (*client)->Read("comment.read", "user-42", "c-123", w->token);
//   // r->value, r->lsn, r->path (which path served it), r->token (carry it on)
//
// Every request is routed by the op's flag in the current snapshot, sticky per subject:
// strong → the primary; eventual → the local region's replica, keeping the op's target model:
//   read_your_writes, monotonic_reads, causal  the replica serves only once its watermark for
//       the op's domain reaches the token's LSN (waiting up to `max_wait`, then the primary
//       serves: counted as a fallback). One LSN from the single primary covers all three.
//   consistent_prefix  monotonic reads as above; and a row written with `depends_on` (a reply
//       naming the post it answers) is served by the replica only once the replica's watermark
//       of every domain reaches that LSN, else (after up to `max_wait`) the primary serves it:
//       a reader never sees a reply whose post it cannot see.
//   bounded_staleness(max)  the replica serves only if it holds every write committed more
//       than `max` ago (primary LSN samples against the replica watermark), else the primary.
//   eventual  the replica as it is.
// Critical ops, unknown ops and ops whose breaker is open are always strong. Writes always go
// to the primary (the outbox carries them to every region).
//
// In shadow and ramp stages a sampled share of reads is also read on the other path and
// compared off the hot path (ShadowComparer). Telemetry per op is cut every
// `telemetry_window` and published to Kafka `cmo.telemetry` (TelemetryWindow).
//
// Flags are re-read from the control database in the state dir whenever its revision changes
// (polled every `flag_poll`); if that fails, routing keeps the last good snapshot and the
// telemetry says control_plane_reachable=false.
//
// Thread-safe: one Client per process, shared by all request threads. Each thread keeps a
// small context per op it uses (the op's compiled flag, its telemetry counters, its domain's
// watermark), so after a thread's first request for an op nothing is looked up by name; store
// connections come from a pool (as many as requests run at once, kept open).
#ifndef CMO_SHADOW_CLIENT_H_
#define CMO_SHADOW_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "flags/snapshot.h"
#include "shadow/cdc_relay.h"
#include "shadow/comparator.h"
#include "shadow/flag_source.h"
#include "shadow/telemetry.h"

namespace cmo::shadow {

struct ClientConfig {
  // The deployment's state dir (control.db; the stores unless `cmo serve` recorded server
  // stores in it). Empty on an app host of a fleet: then primary_url, replica_url,
  // kafka_brokers and message_key_file are required, and flags come from Kafka `cmo.flags`.
  std::string state_dir;
  std::string region;  // the local replica's region
  // Store URLs (store/store_url.h: a path, sqlite:PATH or postgresql://...); empty = as the
  // state dir says. Each request thread leases its own connection from a pool per store.
  std::string primary_url;
  std::string replica_url;  // the local region's replica
  // Where telemetry goes: "" = the embedded cluster of the state dir if `cmo serve` runs one
  // (STATE/kafka.bootstrap), else nowhere; "none" = nowhere; otherwise host:port,...
  std::string kafka_brokers;
  // librdkafka settings for a real cluster (security.protocol, sasl.*, ssl.*); a `file:PATH`
  // value is read from PATH (base::ResolveKafkaProperty). Never logged.
  std::map<std::string, std::string> kafka_properties;
  std::string client_id;                                 // default: host-pid
  absl::Duration max_wait = absl::Milliseconds(20);      // for the replica to reach a token
  absl::Duration poll_interval = absl::Milliseconds(1);  // while waiting
  // After this a version difference seen by shadow comparison is judged (bounded_staleness
  // ops use their bound instead).
  absl::Duration staleness_window = absl::Seconds(5);
  absl::Duration flag_poll = absl::Milliseconds(100);
  absl::Duration telemetry_window = absl::Milliseconds(250);
  int shadow_queue = 10'000;
  std::map<std::string, std::string> comparators;  // domain -> ParseComparator spec
  // Background threads (flag refresh, telemetry, watermark and LSN sampling, comparison).
  // Off in tests that drive a fake clock through Tick() and RunShadowForTest().
  bool background = true;
  bool synchronous_full = true;  // fsync on every primary write commit
  // Where snapshots come from. One way by default, whatever the deployment: Kafka `cmo.flags`
  // (the control service's signed snapshots) whenever Kafka and the key ring are known —
  // `kafka_brokers`, or the `cmo serve` running on the state dir (STATE_DIR/kafka.bootstrap
  // and STATE_DIR/message-key). Only with no control
  // service at all (a state dir nobody serves: tools, tests) is the state dir's control
  // database polled by revision. `flags_from_kafka` insists on Kafka (an error without it).
  bool flags_from_kafka = false;
  // Overrides both (tests).
  std::shared_ptr<FlagSource> flag_source;
  // The key ring that signs telemetry and verifies flag snapshots on Kafka
  // (base/message_auth.h). Empty: STATE_DIR/message-key when it exists. Without one, telemetry
  // goes unsigned (the control service drops it, counted) and flags_from_kafka is refused.
  std::string message_key_file;
  // After the replica fails with kUnavailable (server down, network cut), eventual reads go to
  // the primary for this long before the replica is tried again, so a dead replica costs
  // reads neither errors nor a connect timeout each. Counted as fallbacks in telemetry.
  absl::Duration replica_retry_after = absl::Seconds(1);
  // Change data capture: the app's database and the tables a plan's domains follow
  // (`cmo serve` config `cdc`). Strong reads of those domains go to the app's table by key
  // (shadow/cdc_source_reader.h); writes to them are the app's own SQL (Write refuses them),
  // and TokenAfterCommit (session_token.h) makes the session token of such a write.
  std::string cdc_source;
  std::vector<CdcTable> cdc_tables;
};

struct WriteResult {
  int64_t lsn = 0;
  std::string token;  // the session's new token
};

struct ReadResult {
  // Provided, so that building one (on every read) initializes each member once instead of
  // zero-filling the whole struct first.
  ReadResult() {}
  std::optional<std::string> value;  // nullopt: no such key (or deleted)
  int64_t lsn = 0;                   // the version read; 0 when the key never existed
  flags::Path path = flags::Path::kStrong;
  bool waited = false;     // the replica had to catch up with the token first
  bool fell_back = false;  // routed eventual, served by the primary
  std::string token;
};

// Counters since Open, for tests and diagnostics (per-window counts go to telemetry).
struct ClientStats {
  int64_t snapshot_revision = 0;
  bool control_plane_reachable = true;
  int64_t flag_refresh_errors = 0;
  int64_t telemetry_published = 0;
  int64_t telemetry_errors = 0;
  int64_t samples_compared = 0;        // shadow comparisons settled (any class)
  int64_t samples_dropped = 0;         // shadow queue full
  int64_t flag_snapshots_refused = 0;  // unsigned, forged or implausible snapshots dropped
  int64_t converged_lsn = 0;           // applied in every region through this LSN (0: unknown)
  int64_t hot_items = 0;               // items an amplification guard keeps strong right now
  int64_t hot_items_dropped = 0;       // marks refused: kMaxHotItems were hot already
};

class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Open(
      ClientConfig config, const base::Clock& clock = base::SystemClock());
  ~Client();  // stops the background threads; queued comparisons are abandoned

  // `context`: attributes of the request (OpenFeature's evaluation context, e.g.
  // {{"followers", "250000"}}) that tier rules of the op's plan match on (flags/tier.h).
  // `depends_on`: the version (an LSN: WriteResult::lsn, ReadResult::lsn, or a token's through
  // DecodeToken) of what this write causally follows, e.g. the post a reply answers; 0 for
  // nothing. Consistent-prefix reads keep the order (above). kInvalidArgument, nothing written,
  // for a version the primary never committed.
  absl::StatusOr<WriteResult> Write(std::string_view op, std::string_view subject,
                                    std::string_view key, std::string_view value,
                                    std::string_view token = "", flags::EvalContext context = {},
                                    int64_t depends_on = 0);
  absl::StatusOr<WriteResult> Delete(std::string_view op, std::string_view subject,
                                     std::string_view key, std::string_view token = "",
                                     flags::EvalContext context = {});
  // kInvalidArgument for a malformed token (the app should drop it and start a new session).
  // A subject in one of the op's tiers gets the tier's model instead of the op's.
  absl::StatusOr<ReadResult> Read(std::string_view op, std::string_view subject,
                                  std::string_view key, std::string_view token = "",
                                  flags::EvalContext context = {});

  // Blocks until the change behind `token` (a session token a Write returned) has been applied
  // in every region, so an app can hold a notification ("X replied to you") until what it
  // announces is visible everywhere. OK once converged; kDeadlineExceeded after `timeout`;
  // kInvalidArgument for a malformed token; kFailedPrecondition without Kafka and the key ring
  // (the marks come from `cmo serve` on `cmo.converged`, shadow/converged.h).
  absl::Status WaitConverged(std::string_view token, absl::Duration timeout);

  // One round of background work: re-read flags if due, sample the primary's LSN, refresh
  // watermarks, cut and publish telemetry if due. The background thread calls it.
  void Tick();
  // Runs queued shadow comparisons (and due re-checks) on the calling thread.
  int RunShadowForTest(int max);
  // The telemetry since the last cut, without publishing it.
  TelemetryWindow CutTelemetryForTest();
  ClientStats stats();
  const flags::FlagEvaluator& evaluator() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_CLIENT_H_
