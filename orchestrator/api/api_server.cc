#include "orchestrator/api/api_server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "base/json.h"
#include "base/message_auth.h"
#include "base/mutex.h"
#include "base/strings.h"
#include "base/utf8.h"
#include "orchestrator/api/http/http_server.h"
#include "orchestrator/api/internal/api_tokens.h"
#include "orchestrator/api/internal/denial_limiter.h"
#include "orchestrator/api/internal/http_parts.h"
#include "orchestrator/api/internal/http_stats.h"
#include "orchestrator/api/local_api.h"
#include "orchestrator/service/leader_lease.h"
#include "orchestrator/service/server.h"

namespace cmo::orchestrator {
namespace {

using api_internal::Role;
using http::Request;
using http::Response;

Response Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = base::JsonText(body, 2) + "\n";
  return r;
}

Response Error(const absl::Status& status) {
  return Json(HttpStatusFor(status.code()), ErrorBody(status));
}

// Equal-time comparison, so a token cannot be guessed byte by byte from response times.
bool SameToken(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

namespace api_internal {

absl::StatusOr<ApiCall> ToApiCall(const http::Request& req) {
  ApiCall call;
  call.method = req.method;
  call.path = req.path;
  call.query = req.query;
  if (req.method == "POST" && !req.body.empty()) {
    // nlohmann's parser refuses strings that are not UTF-8, so no such text gets stored.
    call.body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (call.body.is_discarded() || !call.body.is_object()) {
      return absl::InvalidArgumentError(
          "request body is not a JSON object (in UTF-8); send "
          "Content-Type: application/json with {\"field\": ...}");
    }
  }
  call.actor = std::string(req.Header("x-cmo-actor"));
  if (call.actor.empty()) call.actor = base::StrCat("api:", req.remote_addr);
  return call;
}

http::Response ToResponse(const absl::StatusOr<nlohmann::json>& out) {
  return out.ok() ? Json(200, *out) : Error(out.status());
}

}  // namespace api_internal

namespace {

absl::StatusOr<std::pair<std::string, int>> ParseListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        base::StrCat("listen address \"", listen,
                     "\" is not host:port (e.g. 127.0.0.1:7070, or port 0 for "
                     "any free port)"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return std::make_pair(host, port);
}

// Loopback only: 127.0.0.0/8, ::1, localhost. (An empty host or 0.0.0.0 listens everywhere.)
bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

std::string TokenPath(const std::string& state_dir) { return state_dir + "/api-token"; }
std::string ApiUrlPath(const std::string& state_dir) { return state_dir + "/api-url"; }

absl::StatusOr<std::string> LoadOrCreateToken(const std::string& state_dir) {
  return LoadOrCreateTokenFile(TokenPath(state_dir));
}

absl::StatusOr<std::string> LoadOrCreateTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (in) {
    std::string token;
    std::getline(in, token);
    if (token.size() < 16) {
      return absl::FailedPreconditionError(
          base::StrCat(path,
                       " holds no usable token (under 16 characters); delete it and restart `cmo "
                       "serve` to create a new one"));
    }
    return token;
  }
  std::random_device rd;
  std::string token;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) {
    const unsigned v = rd();
    token += kHex[v & 15];
    token += kHex[(v >> 4) & 15];
  }
  // Written whole to a file of our own, then linked into place: several instances sharing
  // one token file (api_token_file) may start at once; the first link wins and the others
  // read its token, never a half-written one.
  const std::string tmp = base::StrCat(path, ".", ::getpid(), ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(base::StrCat("cannot create ", tmp, ": ",
                                                      std::strerror(errno),
                                                      "; check that the state dir is writable"));
  }
  const std::string line = token + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) {
    ::unlink(tmp.c_str());
    return absl::FailedPreconditionError(base::StrCat("cannot write ", tmp, "; disk full?"));
  }
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0 && link_errno == EEXIST) return LoadOrCreateTokenFile(path);  // another won
  if (linked != 0) {
    return absl::FailedPreconditionError(base::StrCat("cannot create ", path, ": ",
                                                      std::strerror(link_errno),
                                                      "; check that the directory is writable"));
  }
  return token;
}

struct ApiServer::Impl {
  ApiServerOptions options;
  std::atomic<LeaderLease*> lease{nullptr};
  const base::Clock& clock;
  std::string token;
  std::string url;
  std::unique_ptr<http::HttpServer> http;
  base::Mutex mu;
  std::unique_ptr<LocalApi> api ABSL_GUARDED_BY(mu);
  std::unique_ptr<ControlState> state ABSL_GUARDED_BY(mu);  // metrics and auth audit
  api_internal::HttpStats http_stats;

  // Refusals are decided on the I/O thread, which must never wait for the control state; the
  // few that get an audit entry are written by a thread of their own (which also re-reads the
  // named tokens every second).
  struct Denial {
    std::string actor, why, method, path;
    int64_t unlogged = 0;
  };
  base::Mutex denial_mu;
  // At most 10 `auth.denied` entries a minute per address and 60 in all.
  api_internal::DenialLimiter denials ABSL_GUARDED_BY(denial_mu){10, absl::Minutes(1)};
  std::vector<Denial> to_log ABSL_GUARDED_BY(denial_mu);
  bool stopping ABSL_GUARDED_BY(denial_mu) = false;
  std::thread denial_writer;

  Impl(const ApiServerOptions& o, const base::Clock& c) : options(o), clock(c) {}

  // Who holds a bearer token: the state dir's token (api-token) is the local administrator;
  // named tokens come from the control state, looked up by the SHA-256 of the secret.
  struct Caller {
    std::string name;  // empty for the state dir's token
    Role role = Role::kNone;
  };
  base::Mutex tokens_mu;
  std::map<std::string, Caller> tokens ABSL_GUARDED_BY(tokens_mu);  // sha256 -> holder

  std::optional<Caller> Identify(std::string_view authorization) {
    if (authorization.substr(0, 7) != "Bearer ") return std::nullopt;
    const std::string_view secret = authorization.substr(7);
    if (SameToken(secret, token)) return Caller{"", Role::kAdmin};
    const std::string hash = base::Sha256Hex(secret);
    base::MutexLock lock(&tokens_mu);
    auto it = tokens.find(hash);
    if (it == tokens.end()) return std::nullopt;
    return it->second;
  }

  // Re-reads the named tokens: at start, after a token call, and every second (another
  // instance of an HA control plane may have created or revoked one). A failed read keeps
  // what was known.
  void RefreshTokens() ABSL_LOCKS_EXCLUDED(mu) {
    absl::StatusOr<std::vector<api_internal::ApiToken>> loaded;
    {
      base::MutexLock lock(&mu);
      loaded = api_internal::LoadTokens(*state->plans);
    }
    if (!loaded.ok()) return;
    std::map<std::string, Caller> fresh;
    for (const api_internal::ApiToken& t : *loaded) {
      if (!t.revoked_ms.has_value()) fresh[t.sha256] = Caller{t.name, t.role};
    }
    base::MutexLock lock(&tokens_mu);
    tokens.swap(fresh);
  }

  // A refusal (401 without a usable token, 403 with one whose role is too weak) and, within
  // the limiter's allowance, an audit notice: who tried what, from where. The token itself is
  // never logged; a notice takes no revision.
  Response Deny(const Request& req, const absl::Status& why, std::string_view holder) {
    {
      base::MutexLock lock(&denial_mu);
      int64_t unlogged = 0;
      if (denials.Admit(req.remote_addr, clock.Now(), &unlogged)) {
        std::string actor = base::StrCat("api:", req.remote_addr);
        if (!holder.empty()) actor = base::StrCat(holder, " (", actor, ")");
        to_log.push_back({actor, std::string(why.message()), req.method,
                          base::SanitizeUtf8(req.path), unlogged});
        denial_mu.SignalAll();
      }
    }
    Response res = Error(why);
    if (absl::IsUnauthenticated(why)) {
      res.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"cmo\"");
    }
    return res;
  }

  Response Unauthenticated(const Request& req, std::string_view why, Role need) {
    return Deny(req,
                absl::UnauthenticatedError(base::StrCat(
                    why, ": ", req.method, " ", base::SanitizeUtf8(req.path.substr(0, 200)),
                    " needs `Authorization: Bearer TOKEN` with a token of role ",
                    api_internal::RoleName(need),
                    " or above (`cmo token create NAME --role ROLE`, or the server's state dir "
                    "token, api-token)")),
                "");
  }

  void WriteDenials() {
    while (true) {
      std::vector<Denial> batch;
      {
        base::MutexLock lock(&denial_mu);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(denial_mu) {
          return stopping || !to_log.empty();
        };
        denial_mu.AwaitWithTimeout(ready, absl::Seconds(1));
        batch.swap(to_log);
        if (batch.empty() && stopping) return;
      }
      RefreshTokens();
      base::MutexLock lock(&mu);
      for (const Denial& d : batch) {
        nlohmann::json after = {{"method", d.method}, {"path", d.path}};
        if (d.unlogged > 0) after["refused_unlogged_before"] = d.unlogged;
        // A failed audit write must not stop the refusals themselves.
        (void)state->flags->RecordNotice(
            "api", {d.actor, base::StrCat(d.why, "; request refused"), "auth.denied", false},
            after);
      }
    }
  }

  // Run on the I/O thread before any body byte is read: a call without the token never gets
  // its body read (or buffered), whatever its size or framing.
  std::optional<Response> CheckHeaders(const Request& req) {
    const std::string_view actor = req.Header("x-cmo-actor");
    if (actor.size() > 200 || !base::IsPrintableUtf8(actor)) {
      return Error(
          absl::InvalidArgumentError("X-Cmo-Actor must be printable UTF-8 of at most 200 bytes"));
    }
    const Role need = api_internal::RequiredRole(req.method, req.path);
    if (need == Role::kNone) return std::nullopt;
    const std::string_view auth = req.Header("authorization");
    if (auth.empty()) return Unauthenticated(req, "no bearer token", need);
    const std::optional<Caller> caller = Identify(auth);
    if (!caller.has_value()) return Unauthenticated(req, "unknown or revoked bearer token", need);
    if (caller->role < need) {
      return Deny(req,
                  absl::PermissionDeniedError(base::StrCat(
                      "token ", caller->name, " has role ", api_internal::RoleName(caller->role),
                      "; ", req.method, " ", base::SanitizeUtf8(req.path.substr(0, 200)), " needs ",
                      api_internal::RoleName(need),
                      ": ask an admin for a token with that role (`cmo token create NAME --role ",
                      api_internal::RoleName(need), "`)")),
                  caller->name);
    }
    return std::nullopt;
  }

  Response HandleApi(const Request& req) {
    absl::StatusOr<ApiCall> call = api_internal::ToApiCall(req);
    if (!call.ok()) return api_internal::ToResponse(call.status());
    // A named token's holder is the actor; what the client says of itself is only detail.
    if (std::optional<Caller> caller = Identify(req.Header("authorization"));
        caller.has_value() && !caller->name.empty()) {
      const std::string_view said = req.Header("x-cmo-actor");
      call->actor = said.empty() ? caller->name : base::StrCat(caller->name, " (", said, ")");
    }
    absl::StatusOr<nlohmann::json> out;
    {
      base::MutexLock lock(&mu);
      out = api->Call(*call);
    }
    if (req.path.rfind("/v1/tokens", 0) == 0 && req.method == "POST") RefreshTokens();
    return api_internal::ToResponse(out);
  }

  std::optional<Response> Inline(const Request& req) {
    if (req.method == "GET" && req.path == "/healthz") return Json(200, {{"status", "ok"}});
    if (req.method == "GET" && req.path == "/") {
      Response r;
      r.content_type = "text/html; charset=utf-8";
      r.body = std::string(api_internal::DashboardHtml());
      return r;
    }
    return std::nullopt;
  }

  // Who leads the control state: this instance, another (named, with its API address), or
  // nobody right now. A single instance on its own state dir always leads.
  nlohmann::json LeaderJson() {
    LeaderLease* held = lease.load();
    if (held == nullptr) return {{"ha", false}, {"leading", true}};
    nlohmann::json out = {{"ha", true}, {"instance", held->holder()}, {"leading", held->held()}};
    absl::StatusOr<LeaderInfo> leader = held->Leader();
    if (!leader.ok()) {
      out["leader"] = nullptr;
      out["error"] = std::string(leader.status().message());
    } else {
      out["leader"] = {{"instance", leader->holder},
                       {"address", leader->address},
                       {"epoch", leader->epoch},
                       {"live", leader->live}};
    }
    return out;
  }

  Response Route(const Request& req) {
    const bool get = req.method == "GET";
    if (get && req.path == "/readyz") {
      absl::Status ready = absl::OkStatus();
      {
        base::MutexLock lock(&mu);
        if (auto r = state->flags->Revision(); !r.ok()) ready = r.status();
      }
      if (ready.ok() && options.data_path != nullptr) ready = options.data_path->error();
      if (!ready.ok()) {
        return Json(503, {{"status", "not ready"}, {"reason", std::string(ready.message())}});
      }
      return Json(200, {{"status", "ready"}});
    }
    if (get && req.path == "/metrics") {
      absl::StatusOr<std::string> text;
      {
        base::MutexLock lock(&mu);
        text =
            api_internal::RenderMetrics(*state, options.data_path, options.webhooks, &http_stats);
      }
      if (!text.ok()) return Error(text.status());
      Response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = *std::move(text);
      return r;
    }
    if (req.path.rfind("/ofrep/", 0) == 0) {
      base::MutexLock lock(&mu);
      if (std::optional<Response> r = api_internal::Ofrep(*state, req)) return *std::move(r);
    }
    if (get && req.path == "/v1/leader") return Json(200, LeaderJson());
    if (get && req.path == "/v1/status")
      return Json(200, api_internal::DataPathJson(options.data_path));
    if (req.path.rfind("/v1/", 0) == 0 && (get || req.method == "POST")) return HandleApi(req);
    if (!get && req.method != "POST") {
      return http::ErrorResponse(
          405, base::StrCat("method ", req.method, " is not allowed; the API uses GET and POST"));
    }
    return http::ErrorResponse(404, base::StrCat("no such path: ", req.path, "; see docs/API.md"));
  }
};

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiServerOptions& options,
                                                            const base::Clock& clock) {
  auto listen = ParseListen(options.listen);
  if (!listen.ok()) return listen.status();
  if (!options.tls.enabled() && !options.insecure && !IsLoopback(listen->first)) {
    return absl::InvalidArgumentError(base::StrCat(
        "refusing to serve the API in plain HTTP on ", options.listen,
        ": bearer tokens would cross the network in clear text. Give a certificate and key "
        "(tls: {cert_file, key_file} in the config, or --tls-cert/--tls-key), listen on "
        "loopback behind your own TLS proxy, or pass --insecure to accept the risk"));
  }
  auto impl = std::make_unique<Impl>(options, clock);
  auto state = OpenControlState(options.state_dir, /*create=*/true, clock);
  if (!state.ok()) return state.status();
  auto token = options.token_file.empty() ? LoadOrCreateToken(options.state_dir)
                                          : LoadOrCreateTokenFile(options.token_file);
  if (!token.ok()) return token.status();
  {
    base::MutexLock lock(&impl->mu);
    impl->state = *std::move(state);
    impl->api = std::make_unique<LocalApi>(options.state_dir, clock);
  }
  impl->token = *token;
  impl->RefreshTokens();
  const auto& [host, port] = *listen;
  http::ServerLimits limits;
  limits.parser.max_body_bytes = options.max_body_bytes;
  limits.workers = options.threads;
  limits.max_connections = options.max_connections;
  limits.request_deadline = options.request_deadline;
  Impl* raw = impl.get();
  http::ServerHandlers handlers;
  // Every answer a handler makes is counted (the server's own refusals, such as a malformed
  // request, are in its ServerStats).
  handlers.on_headers = [raw](const Request& req) {
    std::optional<Response> r = raw->CheckHeaders(req);
    if (r.has_value()) raw->http_stats.Count(req.method, r->status);
    return r;
  };
  handlers.inline_route = [raw](const Request& req) {
    std::optional<Response> r = raw->Inline(req);
    if (r.has_value()) raw->http_stats.Count(req.method, r->status);
    return r;
  };
  handlers.on_request = [raw](const Request& req) {
    const absl::Time start = absl::Now();
    Response r = raw->Route(req);
    raw->http_stats.Observe(absl::Now() - start);
    raw->http_stats.Count(req.method, r.status);
    return r;
  };
  auto server = http::HttpServer::Start(host, port, limits, std::move(handlers), options.tls);
  if (!server.ok()) return server.status();
  impl->http = *std::move(server);
  impl->denial_writer = std::thread([raw] { raw->WriteDenials(); });
  impl->url = base::StrCat(options.tls.enabled() ? "https://" : "http://",
                           host.find(':') != std::string::npos ? "[" + host + "]" : host, ":",
                           impl->http->port());
  {
    // Whole or not at all: scripts and tests wait for the file and read it at once.
    const std::string path = ApiUrlPath(options.state_dir);
    std::ofstream(path + ".tmp") << impl->url << "\n";
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiServer::~ApiServer() { Stop(); }

const std::string& ApiServer::url() const { return impl_->url; }

void ApiServer::SetLease(LeaderLease* lease) { impl_->lease.store(lease); }

void ApiServer::Stop() {
  if (impl_->http == nullptr) return;
  impl_->http->Stop();
  {
    base::MutexLock lock(&impl_->denial_mu);
    impl_->stopping = true;
    impl_->denial_mu.SignalAll();
  }
  if (impl_->denial_writer.joinable()) impl_->denial_writer.join();
  impl_->http.reset();
  std::remove(ApiUrlPath(impl_->options.state_dir).c_str());
}

}  // namespace cmo::orchestrator
