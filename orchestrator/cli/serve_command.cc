#include <signal.h>

#include <iostream>
#include <memory>

#include "absl/time/clock.h"
#include "base/db_url.h"
#include "base/names.h"
#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/api/api_server.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/control_service.h"
#include "orchestrator/service/server.h"
#include "orchestrator/service/stop_signals.h"

namespace cmo::orchestrator {
namespace {

struct ServeOptions {
  std::string role = "all";
  std::string config;
  std::string kafka;
  std::string listen;
  std::vector<std::string> regions;
  std::string status_interval = "5s";
};

void Log(std::string_view line) {
  std::cout << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ ", absl::Now(), absl::UTCTimeZone()) << line
            << std::endl;
}

int RunServe(const ServeOptions& o, const GlobalOptions& global) {
  ServeConfig config;
  if (!o.config.empty()) {
    auto loaded = LoadServeConfig(o.config);
    if (!loaded.ok()) return ReportError(loaded.status());
    config = *loaded;
  }
  if (global.state_dir_given || o.config.empty()) config.state_dir = global.state_dir;
  if (!o.kafka.empty()) config.kafka_brokers = o.kafka;
  if (!o.regions.empty()) config.regions = o.regions;
  for (const std::string& r : config.regions) {
    if (absl::Status s = base::ValidateName("region", r, "eu-west"); !s.ok()) return ReportError(s);
  }
  auto role = ParseServeRole(o.role);
  if (!role.ok()) return ReportError(role.status());
  config.role = *role;
  // One API per state dir: the process that runs everything serves it by default.
  if (!o.listen.empty()) {
    config.listen = o.listen == "off" ? "" : o.listen;
  } else if (config.role != ServeRole::kAll && config.role != ServeRole::kControl &&
             !config.listen_configured) {
    config.listen = "";
  }
  auto interval = base::ParseDuration(o.status_interval);
  if (!interval.ok()) return ReportError(interval.status());
  const StopSignals stop;  // before the service starts: its threads inherit the blocked mask

  auto service = ControlService::Start(config, base::SystemClock());
  if (!service.ok()) return ReportError(service.status());
  // Creates the state dir (0700) if needed; role control has recorded its control state.
  auto state = OpenControlState(config.state_dir, /*create=*/true, base::SystemClock());
  if (!state.ok()) return ReportError(state.status());
  Server* server = (*service)->data_path();
  if (config.role == ServeRole::kAll) {
    // The one executor of this state dir: applied plans move while the server runs.
    if (absl::Status s = (*service)->StartExecutor(); !s.ok()) {
      (void)(*service)->Stop();
      return ReportError(s);
    }
  }
  if (ApiServer* api = (*service)->api(); api != nullptr) {
    Log(base::StrCat(
        "HTTP API, /metrics and dashboard at ", api->url(),
        "/ (token for mutating "
        "calls: ",
        config.api_token_file.empty() ? TokenPath(config.state_dir) : config.api_token_file, ")"));
  }
  Log(base::StrCat(
      "cmo serve (role ", o.role, "): state dir ", config.state_dir, ", kafka ",
      server == nullptr ? config.kafka_brokers
      : config.kafka_brokers == "embedded"
          ? base::StrCat("embedded at ", server->bootstrap_servers(), " (written to ",
                         shadow::BootstrapPath(config.state_dir), ")")
          : config.kafka_brokers,
      ", regions ", base::StrJoin(config.regions, ", "),
      config.role == ServeRole::kAll
          ? base::StrCat(", plan executor every ", absl::FormatDuration(config.executor_every))
          : "",
      config.role == ServeRole::kControl
          ? base::StrCat(", control state ", base::RedactDbUrl(config.control_state), ", instance ",
                         (*service)->lease()->holder(), " (advertised as ",
                         (*service)->lease()->address(), ")")
          : "",
      "; ready"));
  int64_t revision = (*state)->flags->Revision().value_or(-1);
  absl::Time last_status = absl::Now();
  int exit_code = kExitOk;
  for (;;) {
    if (const int sig = stop.Wait(absl::Milliseconds(200)); sig != 0) {
      Log(base::StrCat("received ", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                       "; draining and stopping"));
      break;
    }
    if (absl::Status e = (*service)->error(); !e.ok()) {
      exit_code = ReportError(e);
      break;
    }
    for (const std::string& e : (*service)->TakeLeaseEvents()) Log(e);
    for (const migrations::TickEvent& e : (*service)->TakePlanEvents()) {
      Log(base::StrCat("plan: ", e.op, ": ", e.what));
    }
    for (const Transition& t : (*service)->TakeTransitions()) {
      Log(base::StrCat("breaker ", t.op, ": ", BreakerEventName(t.event), " (",
                       flags::BreakerStateName(t.record.state), "): ", t.record.reason));
    }
    if (auto r = (*state)->flags->Revision(); r.ok() && *r != revision) {
      revision = *r;
      Log(base::StrCat("flags changed: revision ", revision));
    }
    if (absl::Now() - last_status >= *interval && server == nullptr) {
      last_status = absl::Now();
      std::string control;
      if (auto c = (*service)->control_metrics(); c.has_value()) {
        control =
            base::StrCat(": telemetry windows ", c->telemetry_windows, ", breaker transitions ",
                         c->transitions, ", flags published at revision ", c->snapshot_revision);
      }
      Log(base::StrCat((*service)->leading() ? "leading" : "following", control));
    } else if (absl::Now() - last_status >= *interval) {
      last_status = absl::Now();
      const shadow::RelayMetrics m = server->relay_metrics();
      std::string regions;
      for (const auto& r : server->regions()) {
        regions +=
            base::StrCat(" ", r.region, "=", r.watermark, " (applied ", r.applier.applied, ")");
      }
      std::string control;
      if (auto c = (*service)->control_metrics(); c.has_value()) {
        control =
            base::StrCat(", telemetry windows ", c->telemetry_windows, ", breaker transitions ",
                         c->transitions, ", flags published at revision ", c->snapshot_revision);
      }
      Log(base::StrCat("last lsn ", m.last_lsn, ", published ", m.published_through,
                       ", outbox lag ", m.outbox_lag, ", watermarks", regions, control));
    }
  }
  // API first, then the executor between two ticks, then the data path drains.
  if (absl::Status stopped = (*service)->Stop(); !stopped.ok()) return ReportError(stopped);
  Log("stopped cleanly");
  return exit_code;
}

}  // namespace

void SetupServeCommand(CLI::App& app, GlobalOptions& global, CommandRegistry& registry) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run the control plane: the data path (outbox relay to Kafka, one applier per region) and, "
      "with role all, the control loop (telemetry intake, budgets and breakers, flag snapshots on "
      "cmo.flags), the plan executor (applied plans move while it runs), scheduled "
      "reconciliation and the HTTP API");
  serve
      ->add_option("--role", o->role,
                   "all (default): everything in this process; or one part, to run them as "
                   "separate processes on one state dir: kafka (the embedded cluster), relay, "
                   "applier (for --regions); or control: the control plane alone on a "
                   "PostgreSQL control_state that 2-3 instances share, one leading (see "
                   "runbooks/high-availability.md)")
      ->check(CLI::IsMember({"all", "kafka", "relay", "applier", "control"}));
  serve->add_option(
      "--config", o->config,
      "YAML config: state_dir, kafka: {brokers, partitions}, primary: URL, "
      "regions: [NAME | {name: NAME, replica: URL}], breaker: {short_window, "
      "long_window, cooldown, max_cooldown, probe_for, evaluate_every}, applier: "
      "{batch, linger, linger_when_behind}, plans: {evaluate_every}, message_key_file, "
      "control_state: URL, advertise: http://HOST:PORT. A store URL is "
      "postgresql://USER@HOST:PORT/DB, or a path / sqlite:PATH (default: the state "
      "dir's SQLite files)");
  serve->add_option("--listen", o->listen,
                    "HTTP API, /metrics, /healthz, /readyz and dashboard address (default "
                    "127.0.0.1:7070 with roles all and control, off for the others unless the "
                    "config sets `listen`; port 0 = any free port, written to "
                    "STATE_DIR/api-url; `off` to disable)");
  serve->add_option("--kafka", o->kafka, "Kafka brokers host:port,... or `embedded` (default)");
  serve->add_option("--regions", o->regions, "Replica regions (default eu-west us-east)")
      ->delimiter(',');
  serve->add_option("--status-interval", o->status_interval,
                    "How often to log a status line (default 5s)");
  registry.On(serve, [o, &global] { return RunServe(*o, global); });
}

}  // namespace cmo::orchestrator
