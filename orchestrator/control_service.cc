#include "orchestrator/control_service.h"

#include "base/status_macros.h"
#include "base/strings.h"
#include "orchestrator/service/control_state.h"

namespace cmo::orchestrator {

absl::StatusOr<std::unique_ptr<ControlService>> ControlService::Start(const ServeConfig& config,
                                                                      const base::Clock& clock) {
  std::unique_ptr<ControlService> s(new ControlService(config, clock));
  // On an error below, `s` is destroyed with whatever did start (~ControlService stops it).
  CMO_ASSIGN_OR_RETURN(s->server_, Server::Start(config, clock));
  if (!config.listen.empty()) {
    auto api = ApiServer::Start(
        {.listen = config.listen, .state_dir = config.state_dir, .data_path = s->server_.get()},
        clock);
    if (!api.ok()) return api.status();
    s->api_ = *std::move(api);
  }
  return s;
}

ControlService::~ControlService() { (void)Stop(); }

absl::Status ControlService::StartExecutor() {
  if (config_.role != ServeRole::kAll) {
    return absl::FailedPreconditionError(
        "the plan executor runs with role all (the process that runs the control loop)");
  }
  if (executor_.joinable()) return absl::OkStatus();
  CMO_ASSIGN_OR_RETURN(executor_lock_, ExecutorLock::Acquire(config_.state_dir, "cmo serve"));
  executor_ = std::thread([this] { RunExecutor(); });
  return absl::OkStatus();
}

void ControlService::RunExecutor() {
  // Its own connection to the control state: the executor's transactions (a step and its
  // flag change) never interleave with the control loop's on one connection.
  absl::StatusOr<std::unique_ptr<ControlState>> state =
      OpenControlState(config_.state_dir, /*create=*/false, clock_);
  if (!state.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    executor_error_ = state.status();
    return;
  }
  while (!stop_.load()) {
    absl::StatusOr<std::vector<migrations::TickEvent>> events = (*state)->executor->Tick();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!events.ok()) {
        // A busy or briefly unavailable store is retried on the next tick; the tick is
        // idempotent (a step commits atomically with its progress).
        if (executor_error_.ok() && !absl::IsUnavailable(events.status()) &&
            !absl::IsAborted(events.status())) {
          executor_error_ = events.status();
          return;
        }
      } else {
        for (migrations::TickEvent& e : *events) events_.push_back(std::move(e));
      }
    }
    // Short sleeps, so Stop() does not wait out a long interval.
    const absl::Time next = clock_.Now() + config_.executor_every;
    while (!stop_.load() && clock_.Now() < next) {
      clock_.SleepFor(std::min(absl::Milliseconds(50), config_.executor_every));
    }
  }
}

std::vector<migrations::TickEvent> ControlService::TakePlanEvents() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(events_, {});
}

absl::Status ControlService::error() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!executor_error_.ok()) {
      return absl::Status(executor_error_.code(),
                          base::StrCat("plan executor: ", executor_error_.message()));
    }
  }
  return server_->error();
}

absl::Status ControlService::Stop() {
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  if (api_ != nullptr) api_->Stop();  // no new calls while the rest stops
  stop_.store(true);
  if (executor_.joinable()) executor_.join();  // between two ticks
  executor_lock_.reset();
  if (server_ == nullptr) return absl::OkStatus();  // Start() failed before the data path ran
  absl::Status stopped = server_->Stop();
  server_.reset();  // closes the stores: every commit was already durable
  return stopped;
}

}  // namespace cmo::orchestrator
