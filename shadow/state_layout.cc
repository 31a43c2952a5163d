#include "shadow/state_layout.h"

#include <algorithm>
#include <filesystem>

#include "base/strings.h"
#include "shadow/deployment_stores.h"

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

std::vector<std::string> ReplicaRegions(const std::string& state_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(state_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("replica-", 0) == 0 && name.size() > 11 &&
        name.substr(name.size() - 3) == ".db") {
      out.push_back(name.substr(8, name.size() - 11));
    }
  }
  if (absl::StatusOr<StoreLocations> where = ReadStoreLocations(state_dir); where.ok()) {
    for (const auto& [region, url] : where->replicas) out.push_back(region);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace cmo::shadow
