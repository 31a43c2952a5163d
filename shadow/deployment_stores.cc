#include "shadow/deployment_stores.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "base/status_macros.h"
#include "base/strings.h"
#include "shadow/state_layout.h"
#include "store/store_url.h"

namespace cmo::shadow {

std::string StoresPath(const std::string& state_dir) { return base::StrCat(state_dir, "/stores"); }

absl::Status RecordStoreLocations(const std::string& state_dir, const StoreLocations& where) {
  const std::string path = StoresPath(state_dir);
  if (where.primary.empty() && where.replicas.empty() && where.control.empty()) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::InternalError(base::StrCat("cannot remove ", path, "; check the state dir"));
    }
    return absl::OkStatus();
  }
  std::string text =
      "# Written by `cmo serve` from its config: where this deployment's stores are.\n";
  if (!where.primary.empty()) text += base::StrCat("primary ", where.primary, "\n");
  if (!where.control.empty()) text += base::StrCat("control ", where.control, "\n");
  for (const auto& [region, url] : where.replicas) {
    text += base::StrCat("replica ", region, " ", url, "\n");
  }
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const bool written =
      fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(base::StrCat("cannot write ", path, "; check the state dir"));
  }
  return absl::OkStatus();
}

absl::StatusOr<StoreLocations> ReadStoreLocations(const std::string& state_dir) {
  const std::string path = StoresPath(state_dir);
  std::ifstream in(path);
  StoreLocations where;
  if (!in) return where;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string kind, a, b, extra;
    fields >> kind >> a >> b >> extra;
    if (kind == "primary" && !a.empty() && b.empty()) {
      where.primary = a;
    } else if (kind == "control" && !a.empty() && b.empty()) {
      where.control = a;
    } else if (kind == "replica" && !b.empty() && extra.empty()) {
      where.replicas[a] = b;
    } else {
      return absl::InvalidArgumentError(base::StrCat(
          path, ":", n,
          ": expected `primary URL`, `replica REGION URL` or `control URL`; the file is written "
          "by `cmo serve` from its config: restart it, or delete the file to use the state dir's "
          "SQLite stores"));
    }
  }
  return where;
}

absl::StatusOr<std::string> PrimaryStoreUrl(const std::string& state_dir) {
  CMO_ASSIGN_OR_RETURN(StoreLocations where, ReadStoreLocations(state_dir));
  return where.primary.empty() ? PrimaryPath(state_dir) : where.primary;
}

absl::StatusOr<std::string> ReplicaStoreUrl(const std::string& state_dir,
                                            const std::string& region) {
  CMO_ASSIGN_OR_RETURN(StoreLocations where, ReadStoreLocations(state_dir));
  auto it = where.replicas.find(region);
  return it == where.replicas.end() ? ReplicaPath(state_dir, region) : it->second;
}

absl::StatusOr<std::unique_ptr<store::PrimaryStore>> OpenPrimary(
    const std::string& state_dir, const base::Clock& clock, const store::StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(std::string url, PrimaryStoreUrl(state_dir));
  return store::PrimaryStore::Open(url, clock, options);
}

absl::StatusOr<std::unique_ptr<store::ReplicaStore>> OpenReplica(
    const std::string& state_dir, const std::string& region, const store::StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(std::string url, ReplicaStoreUrl(state_dir, region));
  if (store::IsMissingSqliteFile(url)) {
    return absl::NotFoundError(base::StrCat("no replica for region ", region, " (", url, ")"));
  }
  return store::ReplicaStore::Open(url, options);
}

}  // namespace cmo::shadow
