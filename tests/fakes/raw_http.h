// Raw TCP connections to a local HTTP server, for tests that must behave like a hostile client
// (slow writers, half-sent bodies, bytes no HTTP library would send).
#ifndef CMO_TESTS_FAKES_RAW_HTTP_H_
#define CMO_TESTS_FAKES_RAW_HTTP_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>

namespace cmo::testing {

class RawConn {
 public:
  // `from`: a loopback source address to connect from (e.g. "127.0.3.7"), as a client with
  // many addresses would; empty for the default.
  explicit RawConn(int port, const std::string& from = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!from.empty()) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      ::inet_pton(AF_INET, from.c_str(), &src.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Whole write; false once the peer has closed (EPIPE/ECONNRESET).
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Non-blocking check whether the server has sent something (or closed).
  bool Readable(int timeout_ms = 0) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
  }
  // Reads until the peer closes or `timeout_ms` passes with nothing new.
  std::string ReadAll(int timeout_ms = 5000) {
    std::string out;
    char buf[4096];
    while (Readable(timeout_ms)) {
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // One response to a request sent with Connection: close.
  static std::string Exchange(int port, std::string_view request, int timeout_ms = 5000,
                              const std::string& from = "") {
    RawConn c(port, from);
    if (!c.ok() || !c.Send(request)) return "";
    return c.ReadAll(timeout_ms);
  }

 private:
  int fd_ = -1;
};

// The status code of a raw HTTP/1.1 response ("HTTP/1.1 404 ..." -> 404), or 0.
inline int StatusOf(std::string_view response) {
  if (response.size() < 12 || response.substr(0, 5) != "HTTP/") return 0;
  return std::stoi(std::string(response.substr(9, 3)));
}

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_RAW_HTTP_H_
