// Steering reconciliation and the tombstone horizon: POST /v1/reconcile/{domain}/{region}/
// pause|resume|throttle, POST /v1/reconcile/{domain}/gc.
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/api/internal/handlers.h"
#include "reconcile/reconcile_job.h"
#include "shadow/deployment_stores.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::orchestrator::api_internal {

absl::StatusOr<nlohmann::json> SetJobState(const Context& c, const std::string& domain,
                                           const std::string& region, const std::string& state) {
  auto jobs = reconcile::JobStore::Open(c.state.flags->db());
  if (!jobs.ok()) return jobs.status();
  CMO_RETURN_IF_ERROR((*jobs)->SetState(domain, region, state));
  return nlohmann::json{{"domain", domain}, {"region", region}, {"state", state}};
}

absl::StatusOr<nlohmann::json> ThrottleJob(const Context& c, const std::string& domain,
                                           const std::string& region) {
  auto rows = BodyInt(c.call, "rows_per_s", -1);
  if (!rows.ok()) return rows.status();
  if (*rows < 0) {
    return absl::InvalidArgumentError(
        "request body: \"rows_per_s\" (0 = unthrottled, else rows per second) is required");
  }
  auto jobs = reconcile::JobStore::Open(c.state.flags->db());
  if (!jobs.ok()) return jobs.status();
  CMO_RETURN_IF_ERROR((*jobs)->SetThrottle(domain, region, *rows));
  return nlohmann::json{{"domain", domain}, {"region", region}, {"max_rows_per_s", *rows}};
}

absl::StatusOr<nlohmann::json> CollectTombstones(const Context& c, const std::string& domain) {
  auto text = BodyString(c.call, "grace", true);
  if (!text.ok()) return text.status();
  auto grace = base::ParseDuration(*text);
  if (!grace.ok())
    return absl::InvalidArgumentError(base::StrCat("grace: ", grace.status().message()));
  if (*grace < absl::Hours(1)) {
    return absl::InvalidArgumentError(
        "grace must be at least 1h: it must exceed the longest replica downtime you tolerate");
  }
  const absl::Time cutoff = c.clock.Now() - *grace;
  auto primary = shadow::OpenPrimary(c.state_dir, c.clock);
  if (!primary.ok()) return primary.status();
  nlohmann::json out = nlohmann::json::object();
  // Replicas first: a crash in between leaves the primary holding tombstones the replicas no
  // longer have, which the next reconciliation puts back — never the reverse.
  for (const std::string& region : shadow::ReplicaRegions(c.state_dir)) {
    auto replica = shadow::OpenReplica(c.state_dir, region);
    if (!replica.ok()) return replica.status();
    auto n = (*replica)->CollectTombstones(domain, cutoff);
    if (!n.ok()) return n.status();
    out[region] = *n;
  }
  auto n = (*primary)->CollectTombstones(domain, cutoff);
  if (!n.ok()) return n.status();
  out["primary"] = *n;
  return out;
}

}  // namespace cmo::orchestrator::api_internal
