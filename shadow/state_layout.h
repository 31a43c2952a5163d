// Where things live inside a state dir. Shared by `cmo serve` and the client library (which
// opens the same stores when configured with a state dir), so both agree on every path.
#ifndef CMO_SHADOW_STATE_LAYOUT_H_
#define CMO_SHADOW_STATE_LAYOUT_H_

#include <string>
#include <vector>

namespace cmo::shadow {

// The control plane's database: flags, audit log, plans (and later breakers, divergences).
std::string ControlDbPath(const std::string& state_dir);
std::string PrimaryPath(const std::string& state_dir);
std::string ReplicaPath(const std::string& state_dir, const std::string& region);
// The embedded Kafka cluster's bootstrap address, written by `cmo serve`.
std::string BootstrapPath(const std::string& state_dir);
// The regions that have a replica in the state dir or recorded in STATE_DIR/stores, sorted.
std::vector<std::string> ReplicaRegions(const std::string& state_dir);

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_STATE_LAYOUT_H_
