// Pieces of ApiServer kept in their own files: the dashboard page, the /metrics text, OFREP.
#ifndef CMO_ORCHESTRATOR_API_INTERNAL_HTTP_PARTS_H_
#define CMO_ORCHESTRATOR_API_INTERNAL_HTTP_PARTS_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "orchestrator/api/control_api.h"
#include "orchestrator/api/http/request_parser.h"
#include "orchestrator/service/control_state.h"

namespace cmo::orchestrator {
class Server;
class WebhookNotifier;
}  // namespace cmo::orchestrator

namespace cmo::orchestrator::api_internal {

class HttpStats;

// The dashboard: one HTML page with inline CSS and JS, no external assets.
std::string_view DashboardHtml();

// Prometheus text exposition (format 0.0.4) of the control state and, when given, the data
// path of this process.
absl::StatusOr<std::string> RenderMetrics(ControlState& state, Server* data_path,
                                          const WebhookNotifier* webhooks = nullptr,
                                          const HttpStats* http = nullptr);

// A sample's value as the exposition format writes it: every digit kept, NaN and ±Inf spelled
// its way.
std::string SampleValue(double value);

// GET /v1/status: the data path of this process (relay, regions' lag, control loop).
nlohmann::json DataPathJson(Server* data_path);

// OpenFeature remote evaluation: POST /ofrep/v1/evaluate/flags/{op} and the bulk
// POST /ofrep/v1/evaluate/flags (orchestrator/api/ofrep.cc). nullopt for any other path.
std::optional<http::Response> Ofrep(ControlState& state, const http::Request& req);

// An API request as the control API's call (the body parsed as a JSON object), and its answer
// as an HTTP response. Untrusted input: fuzzed by tests/fuzz/http_request_fuzz.cc.
absl::StatusOr<ApiCall> ToApiCall(const http::Request& req);
http::Response ToResponse(const absl::StatusOr<nlohmann::json>& out);

}  // namespace cmo::orchestrator::api_internal

#endif  // CMO_ORCHESTRATOR_API_INTERNAL_HTTP_PARTS_H_
