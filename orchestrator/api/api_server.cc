#include "orchestrator/api/api_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "base/mutex.h"
#include "base/strings.h"
#include "orchestrator/api/internal/denial_limiter.h"
#include "orchestrator/api/internal/http_parts.h"
#include "orchestrator/api/local_api.h"
#include "orchestrator/server.h"

namespace cmo::orchestrator {
namespace {

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", "application/json");
}

void SendError(httplib::Response& res, const absl::Status& status) {
  SendJson(res, HttpStatusFor(status.code()), ErrorBody(status));
}

// Equal-time comparison, so a token cannot be guessed byte by byte from response times.
bool SameToken(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

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
  return std::make_pair(listen.substr(0, colon), port);
}

}  // namespace

std::string TokenPath(const std::string& state_dir) { return state_dir + "/api-token"; }
std::string ApiUrlPath(const std::string& state_dir) { return state_dir + "/api-url"; }

absl::StatusOr<std::string> LoadOrCreateToken(const std::string& state_dir) {
  const std::string path = TokenPath(state_dir);
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
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(base::StrCat("cannot create ", path, ": ",
                                                      std::strerror(errno),
                                                      "; check that the state dir is writable"));
  }
  const std::string line = token + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) {
    return absl::FailedPreconditionError(base::StrCat("cannot write ", path, "; disk full?"));
  }
  return token;
}

struct ApiServer::Impl {
  ApiServerOptions options;
  const base::Clock& clock;
  std::string token;
  std::string url;
  httplib::Server http;
  std::thread thread;
  base::Mutex mu;
  std::unique_ptr<LocalApi> api ABSL_GUARDED_BY(mu);
  std::unique_ptr<ControlState> state ABSL_GUARDED_BY(mu);  // metrics and auth audit
  // At most 10 `auth.denied` entries a minute per address.
  api_internal::DenialLimiter denials ABSL_GUARDED_BY(mu){10, absl::Minutes(1)};

  Impl(const ApiServerOptions& o, const base::Clock& c) : options(o), clock(c) {}

  // 401 and an audit entry: who tried what, from where (the token itself is never logged).
  void Deny(const httplib::Request& req, httplib::Response& res, const char* why) {
    {
      base::MutexLock lock(&mu);
      int64_t unlogged = 0;
      if (denials.Admit(req.remote_addr, clock.Now(), &unlogged)) {
        const std::string actor = base::StrCat("api:", req.remote_addr);
        nlohmann::json after = {{"method", req.method}, {"path", req.path}};
        if (unlogged > 0) after["refused_unlogged_before"] = unlogged;
        auto logged = state->flags->RecordEvent(
            "api", {actor, base::StrCat(why, "; request refused"), "auth.denied", false}, nullptr,
            after);
        (void)logged;  // a failed audit write must not turn a 401 into a 500
      }
    }
    res.set_header("WWW-Authenticate", "Bearer realm=\"cmo\"");
    SendError(res, absl::UnauthenticatedError(base::StrCat(
                       why,
                       ": mutating calls need `Authorization: Bearer TOKEN` with the token "
                       "in the server's state dir (api-token)")));
  }

  void HandleApi(const httplib::Request& req, httplib::Response& res) {
    ApiCall call;
    call.method = req.method;
    call.path = req.path;
    for (const auto& [k, v] : req.params) call.query[k] = v;
    if (req.method == "POST") {
      const std::string auth = req.get_header_value("Authorization");
      if (auth.empty()) return Deny(req, res, "no bearer token");
      if (auth.rfind("Bearer ", 0) != 0 || !SameToken(auth.substr(7), token)) {
        return Deny(req, res, "wrong bearer token");
      }
      if (!req.body.empty()) {
        call.body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
        if (call.body.is_discarded() || !call.body.is_object()) {
          return SendError(res, absl::InvalidArgumentError(
                                    "request body is not a JSON object; send "
                                    "Content-Type: application/json with {\"field\": ...}"));
        }
      }
    }
    call.actor = req.get_header_value("X-Cmo-Actor");
    if (call.actor.empty()) call.actor = base::StrCat("api:", req.remote_addr);
    absl::StatusOr<nlohmann::json> out;
    {
      base::MutexLock lock(&mu);
      out = api->Call(call);
    }
    if (!out.ok()) return SendError(res, out.status());
    SendJson(res, 200, *out);
  }

  void Routes() {
    http.set_payload_max_length(options.max_body_bytes);
    // httplib's default adds SO_REUSEPORT, which lets a second `cmo serve` bind the same port
    // and steal half the requests; an address in use must be an error instead.
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    const size_t threads = static_cast<size_t>(options.threads);
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, {{"status", "ok"}});
    });
    http.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      absl::Status ready = absl::OkStatus();
      {
        base::MutexLock lock(&mu);
        if (auto r = state->flags->Revision(); !r.ok()) ready = r.status();
      }
      if (ready.ok() && options.data_path != nullptr) ready = DataPathError();
      if (!ready.ok())
        return SendJson(res, 503,
                        {{"status", "not ready"}, {"reason", std::string(ready.message())}});
      SendJson(res, 200, {{"status", "ready"}});
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      absl::StatusOr<std::string> text;
      {
        base::MutexLock lock(&mu);
        text = api_internal::RenderMetrics(*state, options.data_path);
      }
      if (!text.ok()) return SendError(res, text.status());
      res.set_content(*text, "text/plain; version=0.0.4");
    });
    http.Get("/v1/status", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, api_internal::DataPathJson(options.data_path));
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(api_internal::DashboardHtml()), "text/html; charset=utf-8");
    });
    auto api_handler = [this](const httplib::Request& req, httplib::Response& res) {
      HandleApi(req, res);
    };
    http.Get("/v1/.*", api_handler);
    http.Post("/v1/.*", api_handler);
    // Anything httplib answers itself (404, 413 body too large, 405) still gets a JSON body.
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string message = base::StrCat("HTTP ", res.status, " for ", req.method, " ", req.path);
      if (res.status == 404)
        message = base::StrCat("no such path: ", req.path, "; see docs/API.md");
      if (res.status == 413) {
        message = base::StrCat("request body larger than ", options.max_body_bytes, " bytes");
      }
      SendJson(res, res.status,
               {{"error", {{"code", "HTTP_" + std::to_string(res.status)}, {"message", message}}}});
    });
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown exception";
          try {
            std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          SendError(res, absl::InternalError(base::StrCat("internal error: ", what)));
        });
  }

  absl::Status DataPathError() { return options.data_path->error(); }
};

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiServerOptions& options,
                                                            const base::Clock& clock) {
  auto listen = ParseListen(options.listen);
  if (!listen.ok()) return listen.status();
  auto impl = std::make_unique<Impl>(options, clock);
  auto state = OpenControlState(options.state_dir, /*create=*/true, clock);
  if (!state.ok()) return state.status();
  auto token = LoadOrCreateToken(options.state_dir);
  if (!token.ok()) return token.status();
  {
    base::MutexLock lock(&impl->mu);
    impl->state = *std::move(state);
    impl->api = std::make_unique<LocalApi>(options.state_dir, clock);
  }
  impl->token = *token;
  impl->Routes();
  const auto& [host, port] = *listen;
  int bound = port;
  if (port == 0) {
    bound = impl->http.bind_to_any_port(host);
    if (bound <= 0) bound = -1;
  } else if (!impl->http.bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound < 0) {
    return absl::FailedPreconditionError(base::StrCat(
        "cannot listen on ", options.listen,
        ": the port is in use or the address is not this host's; pick another with --listen "
        "(or `listen:` in the config)"));
  }
  impl->url = base::StrCat("http://", host, ":", bound);
  httplib::Server* http = &impl->http;
  impl->thread = std::thread([http] { http->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs; wait for it so Stop() never hangs.
  for (int i = 0; i < 5000 && !http->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::ofstream(ApiUrlPath(options.state_dir)) << impl->url << "\n";
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiServer::~ApiServer() { Stop(); }

const std::string& ApiServer::url() const { return impl_->url; }

void ApiServer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->http.stop();
  impl_->thread.join();
  std::remove(ApiUrlPath(impl_->options.state_dir).c_str());
}

}  // namespace cmo::orchestrator
