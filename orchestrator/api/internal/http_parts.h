// Pieces of ApiServer kept in their own files: the dashboard page and the /metrics text.
#ifndef CMO_ORCHESTRATOR_API_INTERNAL_HTTP_PARTS_H_
#define CMO_ORCHESTRATOR_API_INTERNAL_HTTP_PARTS_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "orchestrator/control_state.h"

namespace cmo::orchestrator {
class Server;
}

namespace cmo::orchestrator::api_internal {

// The dashboard: one HTML page with inline CSS and JS, no external assets.
std::string_view DashboardHtml();

// Prometheus text exposition (format 0.0.4) of the control state and, when given, the data
// path of this process.
absl::StatusOr<std::string> RenderMetrics(ControlState& state, Server* data_path);

// GET /v1/status: the data path of this process (relay, regions' lag, control loop).
nlohmann::json DataPathJson(Server* data_path);

}  // namespace cmo::orchestrator::api_internal

#endif  // CMO_ORCHESTRATOR_API_INTERNAL_HTTP_PARTS_H_
