#include "tests/fakes/netns.h"

#include <unistd.h>

#include <vector>

#include "base/strings.h"
#include "tests/fakes/subprocess.h"

namespace cmo::testing {
namespace {

// `ip ARGS`, inside network namespace `netns` when set. Entered with nsenter --net, not
// `ip -n`: that also makes a mount namespace and remounts /, which fails where / is not a mount
// point (a chroot such as the fresh-machine check's).
absl::Status Ip(const std::vector<std::string>& args, const std::string& netns = "") {
  std::vector<std::string> argv;
  if (!netns.empty()) argv = {"/usr/bin/nsenter", "--net=/var/run/netns/" + netns};
  argv.push_back("/usr/sbin/ip");
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = Run(argv);
  if (r.exit_code != 0) {
    return absl::InternalError(
        base::StrCat(base::StrJoin(argv, " "), " failed (", r.exit_code, "): ", r.err));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetNamespace>> NetNamespace::Create(const std::string& label,
                                                                   int subnet) {
  if (::geteuid() != 0) {
    return absl::FailedPreconditionError("network namespaces need root (CI runs as root)");
  }
  if (::access("/usr/sbin/ip", X_OK) != 0) {
    return absl::FailedPreconditionError(
        "no /usr/sbin/ip; run scripts/install-deps.sh (it installs iproute2)");
  }
  const int pid = static_cast<int>(::getpid());
  std::unique_ptr<NetNamespace> ns(new NetNamespace());
  ns->name_ = base::StrCat("cmo-", label, "-", pid);
  // Interface names are at most 15 bytes.
  ns->veth_ = base::StrCat("cv", pid % 100000, "-", subnet);
  const std::string net = base::StrCat("10.", pid % 200 + 20, ".", subnet, ".");
  ns->root_ip_ = net + "1";
  ns->host_ip_ = net + "2";
  const std::string peer = ns->veth_ + "p";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"netns", "add", ns->name_},
           {"link", "add", ns->veth_, "type", "veth", "peer", "name", peer},
           {"link", "set", peer, "netns", ns->name_},
           {"addr", "add", ns->root_ip_ + "/24", "dev", ns->veth_},
           {"link", "set", ns->veth_, "up"},
       }) {
    if (absl::Status s = Ip(args); !s.ok()) return s;
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"addr", "add", ns->host_ip_ + "/24", "dev", peer},
           {"link", "set", peer, "up"},
           {"link", "set", "lo", "up"},
       }) {
    if (absl::Status s = Ip(args, ns->name_); !s.ok()) return s;
  }
  return ns;
}

NetNamespace::~NetNamespace() {
  (void)Ip({"link", "del", veth_});  // takes its peer with it
  (void)Ip({"netns", "del", name_});
}

}  // namespace cmo::testing
