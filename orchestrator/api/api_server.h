// The HTTP side of `cmo serve`: the JSON API under /v1/ (every call goes to the same LocalApi
// the CLI uses without --server), /metrics in Prometheus text format, /healthz and /readyz,
// and the dashboard at /. Mutating calls need the bearer token kept in the state dir.
#ifndef CMO_ORCHESTRATOR_API_API_SERVER_H_
#define CMO_ORCHESTRATOR_API_API_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "orchestrator/api/http/http_server.h"

namespace cmo::orchestrator {

class Server;
class WebhookNotifier;
class LeaderLease;

struct ApiServerOptions {
  std::string listen = "127.0.0.1:7070";  // host:port; port 0 picks a free one
  std::string state_dir;
  size_t max_body_bytes = 1 << 20;  // with or without Content-Length (chunked)
  int threads = 4;                  // workers; slow clients never hold one
  size_t max_connections = 256;     // beyond: the longest-reading connection is evicted
  absl::Duration request_deadline = absl::Seconds(10);  // first byte to last, else 408
  // The data path of this process (lag, outbox, breakers' control loop), or nullptr when the
  // API runs without one (tests; a control-only process).
  Server* data_path = nullptr;
  // The bearer token's file; "" = STATE_DIR/api-token. Instances of one control plane (role
  // control) share one, so that a client failing over from one to another keeps its token.
  std::string token_file = "";
  // The process's webhooks, whose deliveries /metrics reports; nullptr when there are none.
  const WebhookNotifier* webhooks = nullptr;
  // HTTPS with this certificate chain and key (PEM). Without it, an address other than
  // loopback is refused unless `insecure`: tokens would cross the network in clear text.
  http::TlsFiles tls = {};
  bool insecure = false;
};

// Thread-safe: requests run on the server's thread pool; calls into the control state are
// serialized on one connection.
class ApiServer {
 public:
  // Binds and starts serving. Errors: a port in use or an address that cannot be bound
  // (kFailedPrecondition, naming the address), an unusable state dir.
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(const ApiServerOptions& options,
                                                          const base::Clock& clock);
  ~ApiServer();  // stops
  // "http://127.0.0.1:7070" (https:// with TLS), with the port actually bound.
  const std::string& url() const;
  // Role control: this instance's hold on the control state's leader lease, for
  // GET /v1/leader (set once, after Start: the lease names this API's bound address). Without
  // one, the instance is the only one of its state dir and always leads.
  void SetLease(LeaderLease* lease);
  void Stop();

 private:
  struct Impl;
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The state dir's API token file (0600), created with a random token when missing.
std::string TokenPath(const std::string& state_dir);
absl::StatusOr<std::string> LoadOrCreateToken(const std::string& state_dir);
absl::StatusOr<std::string> LoadOrCreateTokenFile(const std::string& path);
// Where `cmo serve` writes its API URL, so local tools find it.
std::string ApiUrlPath(const std::string& state_dir);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_API_API_SERVER_H_
