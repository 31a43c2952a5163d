#include "shadow/state_layout.h"

#include "base/strings.h"

namespace cmo::shadow {

std::string ControlDbPath(const std::string& state_dir) {
  return base::StrCat(state_dir, "/control.db");
}
std::string PrimaryPath(const std::string& state_dir) {
  return base::StrCat(state_dir, "/primary.db");
}
std::string ReplicaPath(const std::string& state_dir, const std::string& region) {
  return base::StrCat(state_dir, "/replica-", region, ".db");
}
std::string BootstrapPath(const std::string& state_dir) {
  return base::StrCat(state_dir, "/kafka.bootstrap");
}
std::string RepublishRequestPath(const std::string& state_dir) {
  return base::StrCat(state_dir, "/republish.request");
}

}  // namespace cmo::shadow
