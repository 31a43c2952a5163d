// The HTTP/1.1 server under cmo's API: one epoll thread owns every connection and reads
// requests in full (bounded by RequestParser's limits and a per-request deadline) before a
// worker thread sees them, so slow or idle clients cost a buffer, never a worker, and
// /healthz-style answers are given on the I/O thread itself. Why not cpp-httplib (thread per
// connection, per-read timeouts only: 4 clients at 1 byte/s held its 4 workers for 45 s) and why
// not libmicrohttpd (inactivity timeout only): docs/SECURITY.md.
#ifndef CMO_ORCHESTRATOR_API_HTTP_HTTP_SERVER_H_
#define CMO_ORCHESTRATOR_API_HTTP_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orchestrator/api/http/request_parser.h"

namespace cmo::orchestrator::http {

struct ServerLimits {
  ParserLimits parser;
  // From a request's first byte to its last; a slower client gets 408 and is disconnected.
  absl::Duration request_deadline = absl::Seconds(10);
  // A keep-alive connection with no request in progress is closed after this.
  absl::Duration idle_timeout = absl::Seconds(30);
  // For the client to take a whole response.
  absl::Duration write_timeout = absl::Seconds(10);
  // Open connections at most; a new one beyond it evicts the connection that has been reading
  // (or idle) longest, so slow clients cannot lock others out.
  size_t max_connections = 256;
  int workers = 4;
  size_t max_queued = 256;  // whole requests waiting for a worker; beyond it: 503
};

struct ServerHandlers {
  // On the I/O thread, once the headers are in and before any body byte is read: a response
  // here (401, 400) is sent at once, the body is never read and the connection is closed.
  // Must not block.
  std::function<std::optional<Response>(const Request&)> on_headers;
  // On the I/O thread, for answers that must not wait behind busy workers (health). Must not
  // block. nullopt: the request goes to a worker.
  std::function<std::optional<Response>(const Request&)> inline_route;
  // On a worker thread. An exception becomes a 500.
  std::function<Response(const Request&)> on_request;
};

struct ServerStats {
  int64_t connections_open = 0;
  int64_t accepted = 0;
  int64_t evicted = 0;     // closed to make room for a new connection
  int64_t timed_out = 0;   // request deadline, idle or write timeout
  int64_t refused = 0;     // parse errors and early refusals
  int64_t overloaded = 0;  // 503 because the worker queue was full
};

// HTTPS: a certificate chain and its private key, both PEM files. TLS 1.2 at least; the
// handshake happens on the I/O thread like any read, so a slow handshake costs a buffer, not a
// worker, and counts against the request deadline.
struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  bool enabled() const { return !cert_file.empty(); }
};

// Thread-safe: Start, Stop and stats may be called from any thread; handlers run as said above.
class HttpServer {
 public:
  // Binds `host:port` (port 0: any free port) and starts serving, over TLS when `tls` names
  // files. kFailedPrecondition when the address cannot be bound or the files do not load.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& host, int port,
                                                           ServerLimits limits,
                                                           ServerHandlers handlers,
                                                           const TlsFiles& tls = {});
  ~HttpServer();  // stops
  int port() const;
  void Stop();
  ServerStats stats() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The JSON error body every refusal of the server itself carries:
// {"error": {"code": "HTTP_413", "message": ...}}.
Response ErrorResponse(int status, const std::string& message);

}  // namespace cmo::orchestrator::http

#endif  // CMO_ORCHESTRATOR_API_HTTP_HTTP_SERVER_H_
