#include "tests/fakes/delay_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>

#include "base/strings.h"

namespace cmo::testing {
namespace {

sockaddr_in Address(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

struct DelayProxy::Conn {
  int a = -1;  // the client's side
  int b = -1;  // the target's side
  ~Conn() {
    ::close(a);
    ::close(b);
  }
  void Cut() {
    ::shutdown(a, SHUT_RDWR);
    ::shutdown(b, SHUT_RDWR);
  }
};

namespace {

// Copies from -> to, each chunk sent `delay` after it was read. Ends at EOF or an error on
// either side, passing the EOF on.
void Pump(int from, int to, absl::Duration delay, const std::atomic<bool>& stop) {
  struct Chunk {
    absl::Time due;
    std::string data;  // empty: end of stream
  };
  std::deque<Chunk> queue;
  bool eof = false;
  char buf[64 * 1024];
  while (!stop.load()) {
    const absl::Time now = absl::Now();
    while (!queue.empty() && queue.front().due <= now) {
      if (queue.front().data.empty()) {
        ::shutdown(to, SHUT_WR);
        return;
      }
      if (!WriteAll(to, queue.front().data)) {
        ::shutdown(from, SHUT_RDWR);
        return;
      }
      queue.pop_front();
    }
    int timeout_ms = 100;
    if (!queue.empty()) {
      timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(queue.front().due - now)) + 1;
    }
    pollfd p{from, POLLIN, 0};
    if (eof) {
      ::poll(nullptr, 0, timeout_ms);
      continue;
    }
    if (::poll(&p, 1, timeout_ms) <= 0) continue;
    const ssize_t n = ::recv(from, buf, sizeof(buf), 0);
    if (n <= 0) {
      eof = true;
      queue.push_back({absl::Now() + delay, std::string()});
      continue;
    }
    queue.push_back({absl::Now() + delay, std::string(buf, static_cast<size_t>(n))});
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<DelayProxy>> DelayProxy::Start(const std::string& listen_ip,
                                                              const std::string& target_ip,
                                                              int target_port,
                                                              absl::Duration one_way) {
  std::unique_ptr<DelayProxy> p(new DelayProxy());
  p->ip_ = listen_ip;
  p->target_ip_ = target_ip;
  p->target_port_ = target_port;
  p->delay_ = one_way;
  p->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(p->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a = Address(listen_ip, 0);
  socklen_t len = sizeof(a);
  if (::bind(p->listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::listen(p->listen_fd_, 128) != 0 ||
      ::getsockname(p->listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return absl::InternalError(base::StrCat("delay proxy cannot listen on ", listen_ip));
  }
  p->port_ = ntohs(a.sin_port);
  DelayProxy* self = p.get();
  p->acceptor_ = std::thread([self] { self->AcceptLoop(); });
  return p;
}

void DelayProxy::AcceptLoop() {
  while (!stop_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int target = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in t = Address(target_ip_, target_port_);
    if (::connect(target, reinterpret_cast<sockaddr*>(&t), sizeof(t)) != 0) {
      ::close(target);
      ::close(client);  // the target is down: so is the link, as the client sees it
      continue;
    }
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::setsockopt(target, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto conn = std::make_shared<Conn>();
    conn->a = client;
    conn->b = target;
    std::lock_guard<std::mutex> lock(mu_);
    conns_.push_back(conn);
    pumps_.emplace_back([conn, this] { Pump(conn->a, conn->b, delay_, stop_); });
    pumps_.emplace_back([conn, this] { Pump(conn->b, conn->a, delay_, stop_); });
  }
}

void DelayProxy::CutAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& c : conns_) c->Cut();
}

DelayProxy::~DelayProxy() {
  stop_.store(true);
  if (acceptor_.joinable()) acceptor_.join();
  CutAll();
  for (std::thread& t : pumps_) t.join();
  ::close(listen_fd_);
}

}  // namespace cmo::testing
