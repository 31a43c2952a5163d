// The one interface to the control plane that the CLI, the HTTP API and the dashboard share.
// A call is resource-shaped (method, path under /v1/, query, JSON body) and answers JSON, so
// the same call is served in-process on a state dir (LocalApi) or over HTTP by `cmo serve`
// (HttpApi on the client side, ApiServer on the server side) with one copy of the logic.
#ifndef CMO_ORCHESTRATOR_API_CONTROL_API_H_
#define CMO_ORCHESTRATOR_API_CONTROL_API_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cmo::orchestrator {

struct ApiCall {
  ApiCall() = default;
  ApiCall(std::string method_in, std::string path_in,
          std::map<std::string, std::string> query_in = {},
          nlohmann::json body_in = nlohmann::json::object(), std::string actor_in = "")
      : method(std::move(method_in)),
        path(std::move(path_in)),
        query(std::move(query_in)),
        body(std::move(body_in)),
        actor(std::move(actor_in)) {}

  std::string method = "GET";  // GET or POST
  std::string path;            // "/v1/ops/post.like/ramp"
  std::map<std::string, std::string> query;
  nlohmann::json body = nlohmann::json::object();
  std::string actor;  // who, for the audit log (the server authenticates it)
};

// Implementations say whether they are thread-safe.
class ControlApi {
 public:
  virtual ~ControlApi() = default;
  // The response body, or an error whose code says what the caller should do next.
  virtual absl::StatusOr<nlohmann::json> Call(const ApiCall& call) = 0;
};

// Status code <-> HTTP status, both ways, so an error crosses the wire with its meaning (and
// the CLI's exit code is the same with or without --server).
int HttpStatusFor(absl::StatusCode code);
absl::StatusCode StatusCodeForHttp(int http_status);

// The error body every non-2xx response carries: {"error": {"code": "...", "message": "..."}}.
nlohmann::json ErrorBody(const absl::Status& status);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_API_CONTROL_API_H_
