// A network namespace standing in for another host: its own network stack (loopback, routes,
// ports), joined to ours by a veth pair, ROOT_IP <-> HOST_IP on a /24 of its own. Created with
// Debian's iproute2 (`ip netns add`, `ip link add ... type veth`); needs root. Removed, with its
// veth, when destroyed; names carry our PID so parallel test processes never collide.
#ifndef CMO_TESTS_FAKES_NETNS_H_
#define CMO_TESTS_FAKES_NETNS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::testing {

class NetNamespace {
 public:
  // `subnet` in 1..250 picks 10.<pid % 200 + 20>.<subnet>.0/24. kFailedPrecondition when not
  // root or without iproute2 (scripts/install-deps.sh installs it).
  static absl::StatusOr<std::unique_ptr<NetNamespace>> Create(const std::string& label, int subnet);
  ~NetNamespace();
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;

  const std::string& name() const { return name_; }        // for PgServerOptions::netns
  const std::string& host_ip() const { return host_ip_; }  // the namespace's address
  const std::string& root_ip() const { return root_ip_; }  // ours, as seen from it
  // argv prefix that runs a command inside the namespace.
  std::vector<std::string> Exec() const {
    return {"/usr/bin/nsenter", "--net=/var/run/netns/" + name_};
  }

 private:
  NetNamespace() = default;
  std::string name_, veth_, host_ip_, root_ip_;
};

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_NETNS_H_
