// A TCP relay that holds every byte for a fixed one-way latency in each direction: a long-haul
// link between "regions" (network namespaces). This machine's kernel has no netem
// (CONFIG_NET_SCH_NETEM is not set), so `tc qdisc ... netem delay` cannot be used; a relay in
// user space delays what crosses it the same way for request/response traffic, and can also
// cut every connection at once (a network partition, as a client sees it).
#ifndef CMO_TESTS_FAKES_DELAY_PROXY_H_
#define CMO_TESTS_FAKES_DELAY_PROXY_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cmo::testing {

class DelayProxy {
 public:
  // Listens on listen_ip (a free port) and relays each connection to target_ip:target_port.
  static absl::StatusOr<std::unique_ptr<DelayProxy>> Start(const std::string& listen_ip,
                                                           const std::string& target_ip,
                                                           int target_port, absl::Duration one_way);
  ~DelayProxy();
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  const std::string& ip() const { return ip_; }
  int port() const { return port_; }
  // Resets every open connection (new ones are still accepted).
  void CutAll();

 private:
  struct Conn;
  DelayProxy() = default;
  void AcceptLoop();

  std::string ip_, target_ip_;
  int port_ = 0, target_port_ = 0;
  absl::Duration delay_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Conn>> conns_;
  std::vector<std::thread> pumps_;
};

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_DELAY_PROXY_H_
