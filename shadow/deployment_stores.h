// Where a deployment's stores are, for everything that finds the deployment by its state dir.
#ifndef CMO_SHADOW_DEPLOYMENT_STORES_H_
#define CMO_SHADOW_DEPLOYMENT_STORES_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::shadow {

// Where a deployment's stores are when they are servers rather than the state dir's SQLite
// files. `cmo serve` records its config's store URLs in STATE_DIR/stores (mode 0600: a URI may
// carry a password), so that everything else that finds the deployment by its state dir — the
// control loop, the API, `cmo reconcile`, `cmo report`, `cmo watermarks`, the client library —
// opens the same stores. Lines: `primary URL`, `replica REGION URL` and `control URL` (the
// control state on a PostgreSQL server, shared by several `cmo serve` instances).
struct StoreLocations {
  std::string primary;                          // "" = STATE_DIR/primary.db
  std::map<std::string, std::string> replicas;  // absent = STATE_DIR/replica-REGION.db
  std::string control;                          // "" = STATE_DIR/control.db
};
std::string StoresPath(const std::string& state_dir);
// Writes the file atomically; removes it when `where` names no server store.
absl::Status RecordStoreLocations(const std::string& state_dir, const StoreLocations& where);
// kInvalidArgument naming the file and line for a malformed file; defaults when absent.
absl::StatusOr<StoreLocations> ReadStoreLocations(const std::string& state_dir);
absl::StatusOr<std::string> PrimaryStoreUrl(const std::string& state_dir);
absl::StatusOr<std::string> ReplicaStoreUrl(const std::string& state_dir,
                                            const std::string& region);

// The stores themselves. OpenReplica is kNotFound for a region with neither a recorded URL nor
// a replica file in the state dir (its applier runs elsewhere, or never ran).
absl::StatusOr<std::unique_ptr<store::PrimaryStore>> OpenPrimary(
    const std::string& state_dir, const base::Clock& clock,
    const store::StoreOptions& options = {});
absl::StatusOr<std::unique_ptr<store::ReplicaStore>> OpenReplica(
    const std::string& state_dir, const std::string& region,
    const store::StoreOptions& options = {});

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_DEPLOYMENT_STORES_H_
