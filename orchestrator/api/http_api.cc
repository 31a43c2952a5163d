#include "orchestrator/api/http_api.h"

#include <httplib.h>

#include <fstream>

#include "base/json.h"
#include "base/strings.h"

namespace cmo::orchestrator {

struct HttpApi::Impl {
  std::string server;
  std::string token;
  std::unique_ptr<httplib::Client> client;
};

absl::StatusOr<std::unique_ptr<HttpApi>> HttpApi::Create(const std::string& server,
                                                         std::string token, absl::Duration timeout,
                                                         const std::string& ca_file) {
  std::string url = server;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    if (url.find("://") != std::string::npos) {
      return absl::InvalidArgumentError(base::StrCat(
          "--server \"", server, "\": give http://HOST:PORT, https://HOST:PORT or HOST:PORT"));
    }
    url = "http://" + url;
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto impl = std::make_unique<Impl>();
  impl->server = url;
  impl->token = std::move(token);
  impl->client = std::make_unique<httplib::Client>(url);
  if (!impl->client->is_valid()) {
    return absl::InvalidArgumentError(
        base::StrCat("--server \"", server, "\" is not a valid address; give host:port"));
  }
  if (url.rfind("https://", 0) == 0) {
    impl->client->enable_server_certificate_verification(true);
    if (!ca_file.empty()) {
      if (!std::ifstream(ca_file)) {
        return absl::InvalidArgumentError(
            base::StrCat("--tls-ca-file ", ca_file, " cannot be read; give a PEM file"));
      }
      impl->client->set_ca_cert_path(ca_file.c_str());
    }
  }
  const auto secs = absl::ToInt64Seconds(timeout);
  impl->client->set_connection_timeout(5);
  impl->client->set_read_timeout(static_cast<time_t>(secs));
  impl->client->set_write_timeout(static_cast<time_t>(secs));
  return std::unique_ptr<HttpApi>(new HttpApi(std::move(impl)));
}

HttpApi::HttpApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpApi::~HttpApi() = default;

absl::StatusOr<nlohmann::json> HttpApi::Call(const ApiCall& call) {
  httplib::Params params(call.query.begin(), call.query.end());
  const std::string path =
      params.empty() ? call.path : httplib::append_query_params(call.path, params);
  httplib::Headers headers;
  if (!impl_->token.empty()) headers.emplace("Authorization", "Bearer " + impl_->token);
  if (!call.actor.empty()) headers.emplace("X-Cmo-Actor", call.actor);
  httplib::Result res =
      call.method == "POST"
          ? impl_->client->Post(path, headers, base::JsonText(call.body), "application/json")
          : impl_->client->Get(path, headers);
  if (!res && res.error() == httplib::Error::SSLServerVerification) {
    return absl::FailedPreconditionError(base::StrCat(
        "the certificate of ", impl_->server,
        " is not trusted (or does not name that host); pass the CA that signed it with "
        "--tls-ca-file FILE (or CMO_TLS_CA_FILE)"));
  }
  if (!res) {
    return absl::UnavailableError(base::StrCat("control service at ", impl_->server,
                                               " is unreachable (", httplib::to_string(res.error()),
                                               "); is `cmo serve` running there?"));
  }
  nlohmann::json body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status >= 200 && res->status < 300) {
    if (body.is_discarded()) {
      return absl::InternalError(base::StrCat("control service at ", impl_->server, " answered ",
                                              call.path,
                                              " with a body that is not "
                                              "JSON"));
    }
    return body;
  }
  std::string message = base::StrCat("HTTP ", res->status, " from ", impl_->server);
  if (!body.is_discarded() && body.contains("error") && body["error"].is_object()) {
    message = body["error"].value("message", message);
  }
  return absl::Status(StatusCodeForHttp(res->status), message);
}

}  // namespace cmo::orchestrator
