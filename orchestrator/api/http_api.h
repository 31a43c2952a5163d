// ControlApi over HTTP: the CLI's side of `--server URL` (or CMO_SERVER). Same calls, same
// JSON, same error codes as LocalApi, so every command behaves the same either way.
#ifndef CMO_ORCHESTRATOR_API_HTTP_API_H_
#define CMO_ORCHESTRATOR_API_HTTP_API_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "orchestrator/api/control_api.h"

namespace cmo::orchestrator {

// Not thread-safe: one per thread.
class HttpApi : public ControlApi {
 public:
  // `server`: "http://host:port", "https://host:port" or "host:port". `token`: the bearer
  // token ("" sends none: open reads work, the rest get 401). `ca_file`: PEM certificates to
  // trust for https:// ("" = the system's); the server's certificate is always verified.
  static absl::StatusOr<std::unique_ptr<HttpApi>> Create(const std::string& server,
                                                         std::string token,
                                                         absl::Duration timeout = absl::Seconds(30),
                                                         const std::string& ca_file = "");
  ~HttpApi() override;
  absl::StatusOr<nlohmann::json> Call(const ApiCall& call) override;

 private:
  struct Impl;
  explicit HttpApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_API_HTTP_API_H_
