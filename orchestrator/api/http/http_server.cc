#include "orchestrator/api/http/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/json.h"
#include "base/mutex.h"
#include "base/strings.h"

namespace cmo::orchestrator::http {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
constexpr uint64_t kListenId = 0;
constexpr uint64_t kWakeId = 1;
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kMaxReadPerEvent = 256 * 1024;  // fairness between connections
constexpr size_t kMaxDrain = 4 << 20;            // lingering close: bytes read and dropped
constexpr auto kDrainFor = std::chrono::seconds(2);

SteadyTime Now() { return std::chrono::steady_clock::now(); }
std::chrono::nanoseconds Chrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

std::string PeerAddress(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof(buf));
  } else if (ss.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

struct Conn {
  // kDraining: the response is out and our side shut down; what the client still sends (the
  // body of a refused request) is read and dropped for a short while, so that it reads our
  // answer instead of a connection reset (a "lingering close").
  enum class State { kReading, kWorking, kWriting, kDraining };
  uint64_t id = 0;
  int fd = -1;
  std::string remote;
  State state = State::kReading;
  RequestParser parser;
  bool headers_checked = false;
  std::string in;  // received, not yet parsed (pipelined bytes while a request is served)
  std::string out;
  size_t out_off = 0;
  bool close_after = false;
  SteadyTime since;  // idle since, or the current request's first byte, or response start
  bool request_started = false;
  size_t drained = 0;
  SSL* ssl = nullptr;  // HTTPS only
  explicit Conn(ParserLimits limits) : parser(limits) {}
  ~Conn() {
    if (ssl != nullptr) SSL_free(ssl);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // recv()/send() as the socket or the TLS session gives them: > 0 bytes, 0 at the peer's
  // end, -1 with errno (EAGAIN when the session waits for the socket, either way).
  ssize_t Recv(char* buf, size_t n) {
    if (ssl == nullptr) return ::recv(fd, buf, n, 0);
    return Tls(SSL_read(ssl, buf, static_cast<int>(n)));
  }
  ssize_t SendSome(const char* data, size_t n) {
    if (ssl == nullptr) return ::send(fd, data, n, MSG_NOSIGNAL);
    return Tls(SSL_write(ssl, data, static_cast<int>(n)));
  }
  // Decrypted bytes the session holds that no socket event will announce.
  bool Buffered() const { return ssl != nullptr && SSL_pending(ssl) > 0; }

 private:
  ssize_t Tls(int r) {
    if (r > 0) return r;
    const int e = SSL_get_error(ssl, r);
    ERR_clear_error();  // the thread's error queue: never left for the next connection
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : ECONNRESET;
    return -1;
  }
};

// The server's TLS context from PEM files; the message names the file that does not load.
absl::StatusOr<SSL_CTX*> TlsContext(const TlsFiles& tls) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("TLS: cannot create a context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  auto fail = [&](const std::string& what) {
    char err[256] = {0};
    ERR_error_string_n(ERR_get_error(), err, sizeof(err));
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return absl::FailedPreconditionError(base::StrCat("TLS: ", what, " (", err, ")"));
  };
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    return fail(base::StrCat("cannot load the certificate chain ", tls.cert_file,
                             "; give a PEM file (tls.cert_file)"));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail(base::StrCat("cannot load the private key ", tls.key_file,
                             "; give a PEM file (tls.key_file)"));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail(base::StrCat("the private key ", tls.key_file, " does not match the certificate ",
                             tls.cert_file));
  }
  return ctx;
}

struct Job {
  uint64_t conn = 0;
  Request request;
};
struct Done {
  uint64_t conn = 0;
  Response response;
};

}  // namespace

Response ErrorResponse(int status, const std::string& message) {
  Response r;
  r.status = status;
  r.body = base::JsonText(
               {{"error", {{"code", base::StrCat("HTTP_", status)}, {"message", message}}}}, 2) +
           "\n";
  return r;
}

struct HttpServer::Impl {
  ServerLimits limits;
  ServerHandlers handlers;
  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  int port = 0;
  SSL_CTX* ssl_ctx = nullptr;  // HTTPS only
  std::thread loop;

  ~Impl() {
    conns.clear();  // their TLS sessions before the context
    if (ssl_ctx != nullptr) SSL_CTX_free(ssl_ctx);
  }
  std::vector<std::thread> workers;
  std::atomic<bool> stopping{false};

  // Loop thread only.
  std::map<uint64_t, std::unique_ptr<Conn>> conns;
  uint64_t next_id = 2;
  std::vector<uint64_t> pending;  // connections with buffered input to parse

  mutable base::Mutex mu;
  std::deque<Job> jobs ABSL_GUARDED_BY(mu);
  std::vector<Done> done ABSL_GUARDED_BY(mu);
  bool workers_stop ABSL_GUARDED_BY(mu) = false;
  ServerStats stats ABSL_GUARDED_BY(mu);

  void Count(int64_t ServerStats::*field) {
    base::MutexLock lock(&mu);
    ++(stats.*field);
  }

  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof(one));
  }

  void Watch(Conn& c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void Close(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, it->second->fd, nullptr);
    ::close(it->second->fd);
    conns.erase(it);
    base::MutexLock lock(&mu);
    stats.connections_open = static_cast<int64_t>(conns.size());
  }

  void Run() {
    std::vector<epoll_event> events(128);
    SteadyTime last_sweep = Now();
    while (!stopping.load()) {
      const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 50);
      for (int i = 0; i < n; ++i) {
        const uint64_t id = events[i].data.u64;
        if (id == kListenId) {
          AcceptAll();
        } else if (id == kWakeId) {
          uint64_t v;
          (void)!::read(wake_fd, &v, sizeof(v));
          TakeDone();
        } else {
          OnEvent(id, events[i].events);
        }
      }
      while (!pending.empty()) {
        std::vector<uint64_t> ids;
        ids.swap(pending);
        for (uint64_t id : ids) {
          auto it = conns.find(id);
          if (it != conns.end()) Process(*it->second);
        }
      }
      const SteadyTime now = Now();
      if (now - last_sweep >= std::chrono::milliseconds(50)) {
        last_sweep = now;
        Sweep(now);
      }
    }
    std::vector<uint64_t> ids;
    for (const auto& [id, c] : conns) ids.push_back(id);
    for (uint64_t id : ids) Close(id);
  }

  void AcceptAll() {
    while (true) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a transient error (EMFILE): try at the next event
      if (conns.size() >= limits.max_connections && !EvictOne()) {
        ::close(fd);
        Count(&ServerStats::refused);
        continue;
      }
      int yes = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
      auto c = std::make_unique<Conn>(limits.parser);
      c->id = next_id++;
      c->fd = fd;
      c->remote = PeerAddress(ss);
      c->since = Now();
      if (ssl_ctx != nullptr) {
        c->ssl = SSL_new(ssl_ctx);
        if (c->ssl == nullptr || SSL_set_fd(c->ssl, fd) != 1) {
          ::close(fd);
          continue;
        }
        SSL_set_accept_state(c->ssl);  // the handshake runs inside the first reads
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = c->id;
      if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      conns.emplace(c->id, std::move(c));
      base::MutexLock lock(&mu);
      ++stats.accepted;
      stats.connections_open = static_cast<int64_t>(conns.size());
    }
  }

  // Closes the reading connection that has been at it longest; false if every connection is
  // being served or answered (those finish on their own bound).
  bool EvictOne() {
    Conn* oldest = nullptr;
    for (auto& [id, c] : conns) {
      if (c->state == Conn::State::kDraining) {  // done with: the cheapest to drop
        oldest = c.get();
        break;
      }
      if (c->state == Conn::State::kReading && (oldest == nullptr || c->since < oldest->since)) {
        oldest = c.get();
      }
    }
    if (oldest == nullptr) return false;
    Close(oldest->id);
    Count(&ServerStats::evicted);
    return true;
  }

  void OnEvent(uint64_t id, uint32_t events) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Conn& c = *it->second;
    if (events & (EPOLLERR | EPOLLHUP)) return Close(id);
    if ((events & EPOLLOUT) && c.state == Conn::State::kWriting) return Flush(c);
    if (c.state == Conn::State::kDraining) return Drain(c);
    // A TLS handshake may wait to write while reading: EPOLLOUT resumes it.
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLOUT)) && c.state == Conn::State::kReading) Read(c);
  }

  void Read(Conn& c) {
    char buf[kReadChunk];
    size_t total = 0;
    bool eof = false;
    // Past the fairness bound, bytes the TLS session already decrypted are still taken: no
    // socket event would announce them.
    while (total < kMaxReadPerEvent || c.Buffered()) {
      const ssize_t n = c.Recv(buf, sizeof(buf));
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        total += static_cast<size_t>(n);
        continue;
      }
      if (n == 0)
        eof = true;
      else if (errno == EINTR)
        continue;
      else if (errno != EAGAIN && errno != EWOULDBLOCK)
        eof = true;
      break;
    }
    const uint64_t id = c.id;
    Process(c);
    // A client that closed its side gets nothing more unless a request of it is being served.
    if (eof) {
      auto it = conns.find(id);
      if (it != conns.end() && it->second->state == Conn::State::kReading) Close(id);
    }
  }

  void Drain(Conn& c) {
    char buf[kReadChunk];
    while (true) {
      const ssize_t n = c.Recv(buf, sizeof(buf));
      if (n > 0) {
        c.drained += static_cast<size_t>(n);
        if (c.drained > kMaxDrain) return Close(c.id);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      return Close(c.id);
    }
  }

  void Process(Conn& c) {
    while (c.state == Conn::State::kReading && !c.in.empty()) {
      const size_t used = c.parser.Feed(c.in);
      c.in.erase(0, used);
      if (!c.request_started && c.parser.consumed() > 0) {
        c.request_started = true;
        c.since = Now();
      }
      const RequestParser::State st = c.parser.state();
      if (st == RequestParser::State::kError) {
        Count(&ServerStats::refused);
        Response r = ErrorResponse(c.parser.error_status(), c.parser.error_message());
        r.close = true;
        return Respond(c, std::move(r));
      }
      if ((st == RequestParser::State::kBody || st == RequestParser::State::kComplete) &&
          !c.headers_checked) {
        c.headers_checked = true;
        Request& req = c.parser.request();
        req.remote_addr = c.remote;
        if (handlers.on_headers) {
          if (std::optional<Response> early = handlers.on_headers(req)) {
            Count(&ServerStats::refused);
            // The body (if any) is left unread, so nothing after it can be parsed: close.
            if (st == RequestParser::State::kBody) early->close = true;
            return Respond(c, *std::move(early));
          }
        }
        if (st == RequestParser::State::kBody && req.expect_continue) {
          Send(c, "HTTP/1.1 100 Continue\r\n\r\n");
        }
      }
      if (st == RequestParser::State::kComplete) return Dispatch(c);
      if (used == 0) return;
    }
  }

  // A best-effort write of an interim line (100 Continue) while still reading.
  void Send(Conn& c, std::string_view bytes) { (void)!c.SendSome(bytes.data(), bytes.size()); }

  void Dispatch(Conn& c) {
    Request& req = c.parser.request();
    if (handlers.inline_route) {
      if (std::optional<Response> r = handlers.inline_route(req)) return Respond(c, *std::move(r));
    }
    {
      base::MutexLock lock(&mu);
      if (jobs.size() < limits.max_queued) {
        jobs.push_back({c.id, std::move(req)});
        mu.SignalAll();
        c.state = Conn::State::kWorking;
        Watch(c, 0);  // nothing to read until the response is out (errors still wake us)
        return;
      }
      ++stats.overloaded;
    }
    Response busy = ErrorResponse(503, "server busy: too many requests in flight; retry shortly");
    busy.headers.emplace_back("Retry-After", "1");
    Respond(c, std::move(busy));
  }

  void Respond(Conn& c, Response r) {
    const bool keep = c.parser.state() == RequestParser::State::kComplete &&
                      c.parser.request().keep_alive && !r.close;
    c.close_after = !keep;
    c.out = SerializeResponse(r, keep);
    c.out_off = 0;
    c.state = Conn::State::kWriting;
    c.since = Now();
    Flush(c);
  }

  void Flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      const ssize_t n = c.SendSome(c.out.data() + c.out_off, c.out.size() - c.out_off);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Watch(c, EPOLLOUT);
      return Close(c.id);
    }
    if (c.close_after) {
      if (c.ssl != nullptr) {
        SSL_shutdown(c.ssl);  // close_notify, best effort: the socket is shut down next
        ERR_clear_error();
      }
      ::shutdown(c.fd, SHUT_WR);
      c.state = Conn::State::kDraining;
      c.since = Now();
      c.in.clear();
      c.out.clear();
      c.out.shrink_to_fit();
      Watch(c, EPOLLIN | EPOLLRDHUP);
      return Drain(c);
    }
    c.out.clear();
    c.out.shrink_to_fit();
    c.parser.Reset();
    c.headers_checked = false;
    c.request_started = false;
    c.state = Conn::State::kReading;
    c.since = Now();
    Watch(c, EPOLLIN | EPOLLRDHUP);
    // A pipelined request may already be buffered; the loop parses it (not recursion here:
    // a buffer of thousands of tiny requests must not deepen the stack).
    if (!c.in.empty()) pending.push_back(c.id);
  }

  void TakeDone() {
    std::vector<Done> ready;
    {
      base::MutexLock lock(&mu);
      ready.swap(done);
    }
    for (Done& d : ready) {
      auto it = conns.find(d.conn);
      if (it == conns.end() || it->second->state != Conn::State::kWorking) continue;
      Respond(*it->second, std::move(d.response));
    }
  }

  void Sweep(SteadyTime now) {
    std::vector<uint64_t> expired, late;
    for (auto& [id, c] : conns) {
      if (c->state == Conn::State::kReading) {
        if (c->request_started) {
          if (now - c->since > Chrono(limits.request_deadline)) late.push_back(id);
        } else if (now - c->since > Chrono(limits.idle_timeout)) {
          expired.push_back(id);
        }
      } else if (c->state == Conn::State::kWriting &&
                 now - c->since > Chrono(limits.write_timeout)) {
        expired.push_back(id);
      } else if (c->state == Conn::State::kDraining && now - c->since > kDrainFor) {
        expired.push_back(id);
      }
    }
    for (uint64_t id : late) {
      Count(&ServerStats::timed_out);
      Conn& c = *conns[id];
      Response r = ErrorResponse(408, base::StrCat("request not received within ",
                                                   absl::FormatDuration(limits.request_deadline)));
      r.close = true;
      Respond(c, std::move(r));
    }
    for (uint64_t id : expired) {
      auto it = conns.find(id);
      if (it == conns.end()) continue;
      // A finished lingering drain is not a client that timed out.
      if (it->second->state != Conn::State::kDraining) Count(&ServerStats::timed_out);
      Close(id);
    }
  }

  void Work() {
    while (true) {
      Job job;
      {
        base::MutexLock lock(&mu);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
          return workers_stop || !jobs.empty();
        };
        mu.AwaitWithTimeout(ready, absl::Seconds(1));
        if (workers_stop) return;
        if (jobs.empty()) continue;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      Response r;
      try {
        r = handlers.on_request(job.request);
      } catch (const std::exception& e) {
        r = ErrorResponse(500, base::StrCat("internal error: ", e.what()));
      } catch (...) {
        r = ErrorResponse(500, "internal error");
      }
      {
        base::MutexLock lock(&mu);
        done.push_back({job.conn, std::move(r)});
      }
      Wake();
    }
  }
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& host, int port,
                                                              ServerLimits limits,
                                                              ServerHandlers handlers,
                                                              const TlsFiles& tls) {
  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  impl->handlers = std::move(handlers);
  if (tls.enabled()) {
    // OpenSSL writes to the socket with write(), not send(MSG_NOSIGNAL): a client that hangs
    // up mid-handshake would otherwise kill the process with SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    absl::StatusOr<SSL_CTX*> ctx = TlsContext(tls);
    if (!ctx.ok()) return ctx.status();
    impl->ssl_ctx = *ctx;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const auto cannot = [&](const std::string& why) {
    return absl::FailedPreconditionError(
        base::StrCat("cannot listen on ", host, ":", port, ": ", why,
                     "; pick another with --listen (or `listen:` in the config)"));
  };
  if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res) != 0 ||
      res == nullptr) {
    return cannot("the address is not this host's");
  }
  int fd = -1;
  std::string error = "the address is not this host's";
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    // SO_REUSEADDR only (no SO_REUSEPORT): a second `cmo serve` on the same port must fail.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 512) != 0) {
      error = base::StrCat("the port is in use or the address is not this host's (",
                           std::strerror(errno), ")");
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) return cannot(error);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  impl->port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                                 : reinterpret_cast<sockaddr_in&>(bound).sin_port);
  impl->listen_fd = fd;
  impl->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  impl->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->epoll_fd < 0 || impl->wake_fd < 0) {
    return absl::InternalError(base::StrCat("epoll/eventfd: ", std::strerror(errno)));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenId;
  ::epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  ev.data.u64 = kWakeId;
  ::epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, impl->wake_fd, &ev);
  Impl* raw = impl.get();
  for (int i = 0; i < std::max(1, limits.workers); ++i) {
    raw->workers.emplace_back([raw] { raw->Work(); });
  }
  raw->loop = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  Stop();
  if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
  if (impl_->epoll_fd >= 0) ::close(impl_->epoll_fd);
  if (impl_->wake_fd >= 0) ::close(impl_->wake_fd);
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::Stop() {
  if (!impl_->loop.joinable()) return;
  impl_->stopping.store(true);
  impl_->Wake();
  impl_->loop.join();
  // Connections still in the listen backlog are reset, and new ones refused, from now on.
  ::close(impl_->listen_fd);
  impl_->listen_fd = -1;
  {
    base::MutexLock lock(&impl_->mu);
    impl_->workers_stop = true;
    impl_->mu.SignalAll();
  }
  for (std::thread& t : impl_->workers) t.join();
  impl_->workers.clear();
}

ServerStats HttpServer::stats() const {
  base::MutexLock lock(&impl_->mu);
  return impl_->stats;
}

}  // namespace cmo::orchestrator::http
