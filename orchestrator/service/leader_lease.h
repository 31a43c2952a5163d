// Which of several `cmo serve` instances sharing one PostgreSQL control state leads: a lease row
// in that database (`cmo_lease`), not a Kafka consumer-group leader. The lease lives next to the
// state it guards, so the same transaction that writes a flag can check it (fencing): a leader
// that was paused or partitioned past its lease, and wakes up believing it still leads, cannot
// commit a single write, because its epoch is no longer the row's. A group leader elected in
// Kafka could not fence writes to PostgreSQL, and a control plane would then depend on Kafka to
// accept an operator's rollback.
//
// The lease is taken with the database's clock (now() on the server), so instances' clocks
// need not agree. Each acquisition bumps the epoch; the holder renews every `renew_every`; a
// follower takes over once `ttl` passed without renewal. Worst-case takeover after a leader's
// death: ttl + one follower poll (renew_every).
#ifndef CMO_ORCHESTRATOR_SERVICE_LEADER_LEASE_H_
#define CMO_ORCHESTRATOR_SERVICE_LEADER_LEASE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/postgres.h"

namespace cmo::orchestrator {

struct LeaseOptions {
  absl::Duration ttl = absl::Seconds(3);
  absl::Duration renew_every = absl::Milliseconds(500);
};

// Who leads, as the database says.
struct LeaderInfo {
  std::string holder;   // instance id: host:pid:random
  std::string address;  // where its API answers (serve's `advertise`)
  int64_t epoch = 0;
  bool live = false;  // the lease has not expired
};

// This process's hold on the lease, as the write guard checks it.
struct LeaseToken {
  std::string holder;
  int64_t epoch = 0;
};

// One instance's side of the lease. Thread-safe.
class LeaderLease {
 public:
  // Creates the lease table if missing.
  static absl::StatusOr<std::unique_ptr<LeaderLease>> Open(const std::string& url,
                                                           std::string address,
                                                           const base::Clock& clock,
                                                           LeaseOptions options = {});

  // Takes the lease if it is free or expired, renews it if held. Returns whether this
  // instance leads now. A database error: kUnavailable; this instance stops counting itself
  // leader once `ttl` has passed since its last successful renewal (the row may have been
  // taken meanwhile; the write guard refuses its writes either way).
  absl::StatusOr<bool> Poll();
  // Gives the lease up (a clean shutdown): a follower takes over at once, not after ttl.
  void Release();

  // Whether this instance leads: it renewed the lease less than `ttl` ago (counted from before
  // the renewal was sent, so never past the database's expiry: two instances never both
  // answer true).
  bool held() const;
  std::optional<LeaseToken> token() const;
  const std::string& holder() const { return holder_; }
  const std::string& address() const { return address_; }
  // Reads the row (a fresh connection's worth of truth, for followers naming the leader).
  absl::StatusOr<LeaderInfo> Leader();

 private:
  LeaderLease(std::string url, std::string address, const base::Clock& clock, LeaseOptions options);
  absl::Status Connect();

  const std::string url_;
  const std::string address_;
  const std::string holder_;
  const base::Clock& clock_;
  const LeaseOptions options_;
  std::mutex conn_mu_;                        // Poll() and Release() come from different threads
  std::unique_ptr<base::PgConnection> conn_;  // guarded by conn_mu_
  std::atomic<bool> held_{false};
  std::atomic<int64_t> renewed_ns_{INT64_MIN};  // clock time of the last renewal, in ns
  mutable std::mutex mu_;
  int64_t epoch_ = 0;  // guarded by mu_
};

// The write guard of a PostgreSQL control state (base/pg_sql.h): inside the write
// transaction, checks that `token` still holds a live lease. Without a token (a follower, or
// the CLI writing directly) or with a stale one, refuses with kUnavailable naming the leader,
// so the caller sends the change there.
absl::Status CheckLease(base::PgConnection& conn, const std::optional<LeaseToken>& token);

// The lease this process holds, for the write guards of every control-state connection it
// opens (set by the control service; null in the CLI and in clients).
void SetProcessLease(const LeaderLease* lease);
const LeaderLease* ProcessLease();

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_LEADER_LEASE_H_
