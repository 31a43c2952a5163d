#include "orchestrator/control_service.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "base/status_macros.h"
#include "base/strings.h"
#include "orchestrator/service/control_state.h"
#include "shadow/deployment_stores.h"

namespace cmo::orchestrator {

absl::StatusOr<std::unique_ptr<ControlService>> ControlService::Start(const ServeConfig& config,
                                                                      const base::Clock& clock) {
  const bool control = config.role == ServeRole::kControl;
  if (control != !config.control_state.empty() && config.role != ServeRole::kRelay &&
      config.role != ServeRole::kApplier && config.role != ServeRole::kKafka) {
    return absl::InvalidArgumentError(
        control ? "role control needs control_state: postgresql://... in the config (the "
                  "control state its instances share)"
                : "a control_state on PostgreSQL is shared by several instances: run them with "
                  "--role control (and the data path with roles relay and applier)");
  }
  // The state dir keeps this instance's own files (API token, message key, api-url).
  if (::mkdir(config.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        base::StrCat("cannot create state dir ", config.state_dir, ": ", std::strerror(errno)));
  }
  std::unique_ptr<ControlService> s(new ControlService(config, clock));
  // On an error below, `s` is destroyed with whatever did start (~ControlService stops it).
  if (control) {
    // So that the API, the CLI and the control loop given this state dir open the shared
    // control state (and the data path's stores).
    CMO_RETURN_IF_ERROR(shadow::RecordStoreLocations(
        config.state_dir, {config.primary, config.replicas, config.control_state}));
  } else {
    CMO_ASSIGN_OR_RETURN(s->server_, Server::Start(config, clock));
  }
  if (!config.webhooks.empty()) {
    s->webhooks_ = std::make_unique<WebhookNotifier>(config.webhooks, config.webhook_options);
  }
  if (!config.listen.empty()) {
    auto api = ApiServer::Start({.listen = config.listen,
                                 .state_dir = config.state_dir,
                                 .data_path = s->data_path(),
                                 .token_file = config.api_token_file,
                                 .webhooks = s->webhooks_.get(),
                                 .tls = {config.tls_cert_file, config.tls_key_file},
                                 .insecure = config.insecure},
                                clock);
    if (!api.ok()) return api.status();
    s->api_ = *std::move(api);
  }
  if (control) {
    // Followers name the leader by this address: the API's bound one (port 0 resolved)
    // unless the config says how other hosts reach it.
    const std::string address =
        !config.advertise.empty() || s->api_ == nullptr ? AdvertisedUrl(config) : s->api_->url();
    CMO_ASSIGN_OR_RETURN(s->lease_, LeaderLease::Open(config.control_state, address, clock));
    SetProcessLease(s->lease_.get());
    if (s->api_ != nullptr) s->api_->SetLease(s->lease_.get());
    ControlService* self = s.get();
    s->lease_thread_ = std::thread([self] { self->RunLease(); });
    s->leadership_thread_ = std::thread([self] { self->RunLeadership(); });
  }
  return s;
}

ControlService::~ControlService() { (void)Stop(); }

absl::Status ControlService::StartExecutor() {
  if (config_.role != ServeRole::kAll) {
    return absl::FailedPreconditionError(
        "the plan executor runs with role all (the process that runs the control loop); with "
        "role control it runs on the leader by itself");
  }
  if (executor_.joinable()) return absl::OkStatus();
  CMO_ASSIGN_OR_RETURN(executor_lock_, ExecutorLock::Acquire(config_.state_dir, "cmo serve"));
  executor_stop_.store(false);
  executor_ = std::thread([this] { RunExecutor(); });
  return absl::OkStatus();
}

void ControlService::Note(std::string event) {
  std::lock_guard<std::mutex> lock(mu_);
  lease_events_.push_back(std::move(event));
}

void ControlService::RunLease() {
  std::string last_error;
  while (!stop_.load()) {
    absl::StatusOr<bool> held = lease_->Poll();
    if (!held.ok() && held.status().ToString() != last_error) {
      last_error = held.status().ToString();
      Note(base::StrCat("lease: ", held.status().message(), " (retrying)"));
    }
    const absl::Time next = clock_.Now() + absl::Milliseconds(500);
    while (!stop_.load() && clock_.Now() < next) clock_.SleepFor(absl::Milliseconds(50));
  }
}

void ControlService::RunLeadership() {
  bool leading = false;
  while (!stop_.load()) {
    const bool now_leading = lease_->held();
    if (now_leading && !leading) {
      const std::optional<LeaseToken> token = lease_->token();
      Note(base::StrCat("leading: took the lease (epoch ", token ? token->epoch : 0,
                        "); starting the control loop, reconciliation and the plan executor"));
      if (absl::Status st = StartLeading(); !st.ok()) {
        Note(base::StrCat("could not start leading: ", st.message(), "; giving the lease up"));
        StopLeading();
        lease_->Release();
      } else {
        leading = true;
      }
    } else if (!now_leading && leading) {
      Note("lost the lease: stopping the leader's parts; following");
      StopLeading();
      leading = false;
    } else if (now_leading && leading) {
      // A leader whose control loop failed (its database or Kafka went away) hands over
      // rather than exit: another instance, or this one on a later poll, leads again.
      absl::Status failed;
      std::string part = "the control loop";
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (server_ != nullptr) failed = server_->error();
        if (failed.ok() && !executor_error_.ok()) {
          failed = std::exchange(executor_error_, absl::OkStatus());
          part = "the plan executor";
        }
      }
      if (!failed.ok()) {
        Note(base::StrCat(part, " failed: ", failed.message(), "; giving the lease up"));
        StopLeading();
        lease_->Release();
        leading = false;
      }
    }
    const absl::Time next = clock_.Now() + absl::Milliseconds(100);
    while (!stop_.load() && clock_.Now() < next) clock_.SleepFor(absl::Milliseconds(20));
  }
  if (leading) StopLeading();
}

absl::Status ControlService::StartLeading() {
  CMO_ASSIGN_OR_RETURN(std::unique_ptr<Server> server, Server::Start(config_, clock_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    server_ = std::move(server);
  }
  executor_stop_.store(false);
  executor_ = std::thread([this] { RunExecutor(); });
  return absl::OkStatus();
}

void ControlService::StopLeading() {
  executor_stop_.store(true);
  if (executor_.joinable()) executor_.join();
  std::unique_ptr<Server> server;
  {
    std::lock_guard<std::mutex> lock(mu_);
    server = std::move(server_);
  }
  if (server != nullptr) (void)server->Stop();
}

void ControlService::RunExecutor() {
  // Its own connection to the control state: the executor's transactions (a step and its
  // flag change) never interleave with the control loop's on one connection.
  auto stopping = [this] { return stop_.load() || executor_stop_.load(); };
  absl::StatusOr<std::unique_ptr<ControlState>> state =
      OpenControlState(config_.state_dir, /*create=*/false, clock_);
  // A control state that is briefly away (a database restarting) is waited for, as a
  // failed tick is; anything else stops the executor (and, role control, the leadership).
  while (!state.ok() && absl::IsUnavailable(state.status()) && !stopping()) {
    const absl::Time next = clock_.Now() + absl::Milliseconds(500);
    while (!stopping() && clock_.Now() < next) clock_.SleepFor(absl::Milliseconds(50));
    state = OpenControlState(config_.state_dir, /*create=*/false, clock_);
  }
  if (!state.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping()) executor_error_ = state.status();
    return;
  }
  while (!stopping()) {
    absl::StatusOr<std::vector<migrations::TickEvent>> events = (*state)->executor->Tick();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!events.ok()) {
        // A busy or briefly unavailable store is retried on the next tick; the tick is
        // idempotent (a step commits atomically with its progress). A lost lease is
        // kUnavailable too: the lease loop stops this executor.
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
    while (!stopping() && clock_.Now() < next) {
      clock_.SleepFor(std::min(absl::Milliseconds(50), config_.executor_every));
    }
  }
}

std::vector<migrations::TickEvent> ControlService::TakePlanEvents() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(events_, {});
}

std::vector<std::string> ControlService::TakeLeaseEvents() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(lease_events_, {});
}

std::vector<Transition> ControlService::TakeTransitions() {
  std::lock_guard<std::mutex> lock(mu_);
  return server_ != nullptr ? server_->TakeTransitions() : std::vector<Transition>();
}

std::vector<Server::ReconcileDone> ControlService::TakeReconcileDone() {
  std::lock_guard<std::mutex> lock(mu_);
  return server_ != nullptr ? server_->TakeReconcileDone() : std::vector<Server::ReconcileDone>();
}

std::optional<ControlLoopMetrics> ControlService::control_metrics() {
  std::lock_guard<std::mutex> lock(mu_);
  return server_ != nullptr ? server_->control_metrics() : std::nullopt;
}

absl::Status ControlService::error() {
  std::lock_guard<std::mutex> lock(mu_);
  // Role control: a failed leader's parts (control loop or executor) are the leadership
  // loop's to handle: it hands over instead of exiting.
  if (lease_ != nullptr) return absl::OkStatus();
  if (!executor_error_.ok()) {
    return absl::Status(executor_error_.code(),
                        base::StrCat("plan executor: ", executor_error_.message()));
  }
  if (server_ == nullptr) return absl::OkStatus();
  return server_->error();
}

absl::Status ControlService::Stop() {
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  if (api_ != nullptr) api_->Stop();  // no new calls while the rest stops
  stop_.store(true);
  if (leadership_thread_.joinable()) leadership_thread_.join();  // stops the leader's parts
  if (lease_thread_.joinable()) lease_thread_.join();
  if (lease_ != nullptr) lease_->Release();  // a clean stop hands over at once
  if (lease_ != nullptr) {
    SetProcessLease(nullptr);
    lease_.reset();
  }
  if (executor_.joinable()) executor_.join();  // between two ticks
  executor_lock_.reset();
  if (server_ == nullptr) return absl::OkStatus();  // Start() failed before the data path ran
  absl::Status stopped = server_->Stop();
  server_.reset();  // closes the stores: every commit was already durable
  return stopped;
}

}  // namespace cmo::orchestrator
