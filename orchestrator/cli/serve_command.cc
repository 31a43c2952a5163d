#include <signal.h>

#include <iostream>
#include <memory>

#include "absl/time/clock.h"
#include "base/db_url.h"
#include "base/names.h"
#include "base/pg_replication.h"
#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/api/api_server.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/control_service.h"
#include "orchestrator/service/server.h"
#include "orchestrator/service/stop_signals.h"
#include "orchestrator/service/webhooks.h"

namespace cmo::orchestrator {
namespace {

struct ServeOptions {
  std::string role = "all";
  std::string config;
  std::string kafka;
  std::string listen;
  std::vector<std::string> regions;
  std::string status_interval = "5s";
  std::string tls_cert;
  std::string tls_key;
  bool insecure = false;
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
  if (!o.tls_cert.empty() || !o.tls_key.empty()) {
    if (o.tls_cert.empty() || o.tls_key.empty()) {
      return ReportError(absl::InvalidArgumentError(
          "--tls-cert and --tls-key go together: give the certificate chain and its key (PEM)"));
    }
    config.tls_cert_file = o.tls_cert;
    config.tls_key_file = o.tls_key;
  }
  config.insecure = config.insecure || o.insecure;
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
  // Webhooks: what this process logs below is also POSTed (on a follower nothing happens:
  // only the leader's parts produce these events).
  WebhookNotifier* webhooks = (*service)->webhooks();
  auto notify = [&](Notification n) {
    if (webhooks == nullptr) return;
    n.at = absl::Now();
    webhooks->Notify(n);
  };
  WebhookMetrics reported_webhooks;
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
      notify({.event = "plan", .op = e.op, .text = e.what});
    }
    for (const Transition& t : (*service)->TakeTransitions()) {
      const std::string text =
          base::StrCat(BreakerEventName(t.event), " (", flags::BreakerStateName(t.record.state),
                       "): ", t.record.reason);
      Log(base::StrCat("breaker ", t.op, ": ", text));
      notify({.event = "breaker",
              .op = t.op,
              .text = text,
              .details = {{"transition", BreakerEventName(t.event)},
                          {"state", flags::BreakerStateName(t.record.state)},
                          {"reason", t.record.reason},
                          {"trips", t.record.trips}}});
    }
    for (const Server::ReconcileDone& r : (*service)->TakeReconcileDone()) {
      const std::string where = base::StrCat(r.region, "/", r.domain);
      const nlohmann::json details = {{"region", r.region},
                                      {"domain", r.domain},
                                      {"found", r.found},
                                      {"healed", r.healed},
                                      {"rows_scanned", r.rows_scanned},
                                      {"error", r.error}};
      if (r.found > 0) {
        notify({.event = "divergence",
                .op = where,
                .text = base::StrCat(r.found, " divergent keys found, ", r.healed, " healed"),
                .details = details});
      }
      notify({.event = "reconcile",
              .op = where,
              .text = r.error.empty()
                          ? base::StrCat("reconciliation done: ", r.found, " found, ", r.healed,
                                         " healed, ", r.rows_scanned, " rows scanned")
                          : base::StrCat("reconciliation stopped: ", r.error),
              .details = details});
    }
    if (webhooks != nullptr) {
      // A delivery that failed for good is said once in the log; the counts are in the
      // status line.
      const WebhookMetrics m = webhooks->metrics();
      if (m.failed > reported_webhooks.failed || m.dropped > reported_webhooks.dropped) {
        Log(base::StrCat("webhooks: ", m.failed, " deliveries failed (last: ", m.last_error, "), ",
                         m.dropped, " dropped (queue full)"));
      }
      reported_webhooks = m;
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
        regions += base::StrCat(" ", r.region, "=", r.watermark, " (applied ", r.applier.applied,
                                r.applier.awaiting_republish > 0
                                    ? base::StrCat(", ", r.applier.awaiting_republish,
                                                   " partitions awaiting re-publication")
                                    : "",
                                r.applier.rejoins > 0
                                    ? base::StrCat(", ", r.applier.rejoins,
                                                   " rejoins for an unread partition")
                                    : "",
                                ")");
      }
      std::string control;
      if (auto c = (*service)->control_metrics(); c.has_value()) {
        control =
            base::StrCat(", telemetry windows ", c->telemetry_windows, ", breaker transitions ",
                         c->transitions, ", flags published at revision ", c->snapshot_revision);
      }
      std::string hooks;
      if (webhooks != nullptr) {
        const WebhookMetrics w = webhooks->metrics();
        hooks = base::StrCat(", webhooks delivered ", w.delivered, " failed ", w.failed, " queued ",
                             w.queued);
      }
      std::string source = base::StrCat("last lsn ", m.last_lsn, ", published ",
                                        m.published_through, ", outbox lag ", m.outbox_lag);
      if (auto c = server->cdc_metrics(); c.has_value()) {
        source = c->snapshot_done
                     ? base::StrCat("cdc: received ", base::FormatPgLsn(c->received_lsn),
                                    ", published through ", c->published_through,
                                    ", slot confirmed ", base::FormatPgLsn(c->confirmed_lsn),
                                    ", retained WAL ", c->retained_wal_bytes, " bytes")
                     : base::StrCat("cdc: snapshot ", c->snapshot_rows, " rows so far");
      }
      Log(base::StrCat(source, ", watermarks", regions, control, hooks));
    }
  }
  // API first, then the executor between two ticks, then the data path drains.
  if (absl::Status stopped = (*service)->Stop(); !stopped.ok()) return ReportError(stopped);
  if (webhooks != nullptr && !webhooks->Drain(absl::Seconds(5))) {
    Log(base::StrCat("webhooks: ", webhooks->metrics().queued, " notifications not sent"));
  }
  Log("stopped cleanly");
  return exit_code;
}

}  // namespace

void SetupServeCommand(CLI::App& app, GlobalOptions& global, CommandRegistry& registry) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run the control plane: the data path (outbox relay to Kafka, or with `cdc:` in the config "
      "the change-data-capture relay following the app's own PostgreSQL tables; one applier per "
      "region) and, "
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
      "control_state: URL, advertise: http://HOST:PORT, tls: {cert_file, key_file}. A store "
      "URL is "
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
  serve->add_option("--tls-cert", o->tls_cert,
                    "Serve the API over HTTPS with this PEM certificate chain (with --tls-key; "
                    "overrides the config's tls:)");
  serve->add_option("--tls-key", o->tls_key, "The PEM private key of --tls-cert");
  serve->add_flag("--insecure", o->insecure,
                  "Allow plain HTTP on an address other than loopback (bearer tokens then cross "
                  "the network in clear text); without it, such a --listen needs TLS");
  registry.On(serve, [o, &global] { return RunServe(*o, global); });
}

}  // namespace cmo::orchestrator
