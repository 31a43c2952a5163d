// ControlApi served in-process on a state dir: what the CLI uses without --server, and what
// `cmo serve` runs behind its HTTP API.
#ifndef CMO_ORCHESTRATOR_API_LOCAL_API_H_
#define CMO_ORCHESTRATOR_API_LOCAL_API_H_

#include <memory>
#include <string>

#include "base/clock.h"
#include "orchestrator/api/control_api.h"
#include "orchestrator/service/control_state.h"

namespace cmo::orchestrator {

// Not thread-safe (it owns one connection): the HTTP server serializes calls to it.
class LocalApi : public ControlApi {
 public:
  // Opens lazily, so a command that fails validation never creates a state dir; calls that
  // create (POST /v1/ops, POST /v1/plans) may create it when `create_state_dir`.
  LocalApi(std::string state_dir, const base::Clock& clock, bool create_state_dir = true);
  ~LocalApi() override;
  absl::StatusOr<nlohmann::json> Call(const ApiCall& call) override;

 private:
  absl::StatusOr<ControlState*> State(bool create);
  std::string state_dir_;
  const base::Clock& clock_;
  bool create_state_dir_;
  std::unique_ptr<ControlState> state_;
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_API_LOCAL_API_H_
