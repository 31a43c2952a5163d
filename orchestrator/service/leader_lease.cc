#include "orchestrator/service/leader_lease.h"

#include <unistd.h>

#include <random>

#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::orchestrator {
namespace {

// The same advisory lock every control-state writer takes (base/pg_sql.cc): taking the lease
// under it means a new leader's term starts only after the old leader's last write
// transaction ended, and any later one of the old leader sees the new epoch and is refused.
constexpr std::string_view kCreate =
    "BEGIN; SELECT pg_advisory_xact_lock(6516079); CREATE TABLE IF NOT EXISTS cmo_lease ("
    "name TEXT PRIMARY KEY, holder TEXT NOT NULL, address TEXT NOT NULL, epoch BIGINT NOT "
    "NULL, expires_at TIMESTAMPTZ NOT NULL); COMMIT";

// Takes a free or expired lease (a new epoch) or renews our own (the same epoch).
constexpr std::string_view kTakeOrRenew =
    "INSERT INTO cmo_lease (name, holder, address, epoch, expires_at) VALUES ('control', $1, "
    "$2, 1, now() + $3::interval) ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
    "address = EXCLUDED.address, epoch = CASE WHEN cmo_lease.holder = EXCLUDED.holder THEN "
    "cmo_lease.epoch ELSE cmo_lease.epoch + 1 END, expires_at = EXCLUDED.expires_at WHERE "
    "cmo_lease.holder = EXCLUDED.holder OR cmo_lease.expires_at < now() RETURNING epoch";

constexpr std::string_view kRead =
    "SELECT holder, address, epoch, expires_at > now() FROM cmo_lease WHERE name = 'control'";

std::string InstanceId() {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  std::random_device rd;
  return absl::StrFormat("%s:%d:%08x", host, ::getpid(), rd());
}

std::atomic<const LeaderLease*> process_lease{nullptr};

absl::StatusOr<LeaderInfo> ReadLeader(base::PgConnection& conn) {
  CMO_ASSIGN_OR_RETURN(base::PgResult r, conn.Exec(kRead));
  LeaderInfo info;
  if (r.rows() == 0) return info;
  info.holder = std::string(r.Text(0, 0));
  info.address = std::string(r.Text(0, 1));
  CMO_ASSIGN_OR_RETURN(info.epoch, r.Int(0, 2));
  info.live = r.Text(0, 3) == "t";
  return info;
}

}  // namespace

LeaderLease::LeaderLease(std::string url, std::string address, const base::Clock& clock,
                         LeaseOptions options)
    : url_(std::move(url)),
      address_(std::move(address)),
      holder_(InstanceId()),
      clock_(clock),
      options_(options) {}

absl::StatusOr<std::unique_ptr<LeaderLease>> LeaderLease::Open(const std::string& url,
                                                               std::string address,
                                                               const base::Clock& clock,
                                                               LeaseOptions options) {
  std::unique_ptr<LeaderLease> lease(new LeaderLease(url, std::move(address), clock, options));
  CMO_RETURN_IF_ERROR(lease->Connect());
  CMO_RETURN_IF_ERROR(lease->conn_->ExecScript(kCreate));
  return lease;
}

absl::Status LeaderLease::Connect() {
  CMO_ASSIGN_OR_RETURN(conn_, base::PgConnection::Connect(url_));
  // A paused old leader holding the writers' lock must not block a takeover forever.
  return conn_->ExecScript("SET lock_timeout = '2s'");
}

absl::StatusOr<bool> LeaderLease::Poll() {
  std::lock_guard<std::mutex> conn_lock(conn_mu_);
  const absl::Time started = clock_.Now();
  absl::Status failed = [&]() -> absl::Status {
    if (conn_ == nullptr || !conn_->ok()) CMO_RETURN_IF_ERROR(Connect());
    const std::string ttl =
        absl::StrFormat("%d milliseconds", absl::ToInt64Milliseconds(options_.ttl));
    CMO_RETURN_IF_ERROR(conn_->ExecScript("BEGIN; SELECT pg_advisory_xact_lock(6516079)"));
    absl::StatusOr<base::PgResult> r = conn_->Exec(kTakeOrRenew, {holder_, address_, ttl});
    if (!r.ok()) {
      (void)conn_->ExecScript("ROLLBACK");
      return r.status();
    }
    CMO_RETURN_IF_ERROR(conn_->ExecScript("COMMIT"));
    if (r->rows() == 0) {  // another instance holds a live lease
      held_.store(false);
      return absl::OkStatus();
    }
    CMO_ASSIGN_OR_RETURN(int64_t epoch, r->Int(0, 0));
    {
      std::lock_guard<std::mutex> lock(mu_);
      epoch_ = epoch;
    }
    // Counted from before the statement: the server's expiry is at least that late.
    renewed_ns_.store(absl::ToUnixNanos(started));
    held_.store(true);
    return absl::OkStatus();
  }();
  if (!failed.ok()) {
    if (!held()) held_.store(false);
    return failed;
  }
  return held();
}

bool LeaderLease::held() const {
  if (!held_.load()) return false;
  const int64_t renewed = renewed_ns_.load();
  return renewed != INT64_MIN && clock_.Now() - absl::FromUnixNanos(renewed) < options_.ttl;
}

void LeaderLease::Release() {
  std::lock_guard<std::mutex> conn_lock(conn_mu_);
  if (!held_.exchange(false) || conn_ == nullptr || !conn_->ok()) return;
  (void)conn_->Exec(
      "UPDATE cmo_lease SET expires_at = now() - interval '1 second' WHERE name = 'control' "
      "AND holder = $1",
      {holder_});
}

std::optional<LeaseToken> LeaderLease::token() const {
  if (!held()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  return LeaseToken{holder_, epoch_};
}

absl::StatusOr<LeaderInfo> LeaderLease::Leader() {
  CMO_ASSIGN_OR_RETURN(auto conn, base::PgConnection::Connect(url_));
  return ReadLeader(*conn);
}

absl::Status CheckLease(base::PgConnection& conn, const std::optional<LeaseToken>& token) {
  absl::StatusOr<LeaderInfo> leader = ReadLeader(conn);
  if (!leader.ok()) {
    // No lease table: no `cmo serve` has run on this control state yet.
    return absl::UnavailableError(
        base::StrCat("no cmo serve leads this control state (", leader.status().message(),
                     "); start cmo serve on it, and send changes through its API (--server)"));
  }
  if (token.has_value() && leader->live && leader->holder == token->holder &&
      leader->epoch == token->epoch) {
    return absl::OkStatus();
  }
  if (!leader->live) {
    return absl::UnavailableError(
        "this control state has no live leader right now (an election is under way, or every "
        "cmo serve is down); retry in a few seconds");
  }
  return absl::UnavailableError(base::StrCat(
      "not the leader: only the leader writes this control state; the leader is ", leader->holder,
      " at ", leader->address, " (send the change there: cmo --server ", leader->address, " ...)"));
}

void SetProcessLease(const LeaderLease* lease) { process_lease.store(lease); }
const LeaderLease* ProcessLease() { return process_lease.load(); }

}  // namespace cmo::orchestrator
