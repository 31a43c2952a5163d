// The configuration of `cmo serve`: a YAML file plus command-line overrides.
#ifndef CMO_ORCHESTRATOR_SERVICE_SERVE_CONFIG_H_
#define CMO_ORCHESTRATOR_SERVICE_SERVE_CONFIG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/kafka.h"
#include "migrations/plan.h"
#include "orchestrator/service/control_loop.h"
#include "orchestrator/service/webhooks.h"
#include "shadow/applier.h"
#include "shadow/cdc_relay.h"

namespace cmo::orchestrator {

// Which parts of the data path this process runs. `all` is the embedded, one-process default;
// the others let Kafka, the relay and each region's applier run (and fail) as separate
// processes on one state dir, as a deployment with appliers in their regions does. `control`
// is the control plane alone (control loop, plan executor, reconciliation scheduler, API) on a
// PostgreSQL control state that two or three instances share: one leads (a lease in that
// database, orchestrator/service/leader_lease.h), the others serve reads and take over.
enum class ServeRole { kAll, kKafka, kRelay, kApplier, kControl };

absl::StatusOr<ServeRole> ParseServeRole(std::string_view text);

// Change data capture (shadow/cdc_relay.h): the relay follows the app's own tables instead of
// cmo's outbox. `source` "" = off.
struct CdcConfig {
  std::string source;                // the app's database: postgresql://...
  std::string plan_file;             // the plan whose `domains: [{name, source: ...}]` are followed
  std::vector<std::string> domains;  // theirs (what appliers apply)
  shadow::CdcOptions options;        // slot, publication, tables, throttle, WAL limit
};

struct ServeConfig {
  ServeRole role = ServeRole::kAll;
  std::string state_dir = "cmo-state";
  // The HTTP API, /metrics and the dashboard (role all; other roles only when set); "" = off.
  std::string listen = "127.0.0.1:7070";
  bool listen_configured = false;  // the config file names `listen` (else: the role's default)
  std::string kafka_brokers = "embedded";  // or "host:port,host:port"
  int kafka_partitions = 4;                // partitions of the change topics cmo creates
  // Replication factor of the topics cmo creates on a real cluster; 0 = min(3, brokers).
  int kafka_replication_factor = 0;
  absl::Duration telemetry_retention = absl::Hours(1);  // retention.ms of cmo.telemetry
  // librdkafka settings for every Kafka client of this process (security.protocol, sasl.*,
  // ssl.*), with `file:PATH` values already replaced by the file's contents. Never logged.
  std::map<std::string, std::string> kafka_properties;
  // Non-empty: the relay publishes in Kafka transactions under this transactional.id
  // (shadow/outbox_relay.h); "" = the idempotent producer alone.
  std::string kafka_transactional_id;
  // Every region (the relay trims the outbox only below what all of them applied); with role
  // `applier`, the regions this process applies.
  std::vector<std::string> regions = {"eu-west", "us-east"};
  // Across machines: the primary's store URL and each region's replica URL (store/store_url.h:
  // a path, sqlite:PATH or postgresql://...). Empty / absent: SQLite files in the state dir.
  std::string primary;
  std::map<std::string, std::string> replicas;
  // The control state (flags, audit, plans, breakers, divergences) on a PostgreSQL server,
  // shared by the `control` instances; "" = STATE_DIR/control.db.
  std::string control_state;
  // The API's address as other hosts reach it, named by followers when they refuse a write
  // (default: http://LISTEN).
  std::string advertise;
  // The API's bearer token file ("" = STATE_DIR/api-token), created if missing.
  std::string api_token_file;
  // HTTPS for the API: a PEM certificate chain and its key; both or neither. Without them an
  // address other than loopback is refused unless `insecure` (--insecure).
  std::string tls_cert_file;
  std::string tls_key_file;
  bool insecure = false;
  // Extra apply delay per region, simulating a slow link (`cmo demo`); empty in production.
  std::map<std::string, absl::Duration> simulated_lag;
  // Appliers' batching (roles all and applier): `batch`, `linger` and `linger_when_behind`
  // come from the config; each region's applier gets its own region and simulated delay.
  shadow::ApplierOptions applier;
  // Budgets and breakers (role all): window overrides (time compression for demos; otherwise
  // each budget's own windows), cooldowns, probe time, evaluation period.
  ControlLoopOptions control;
  // How often the plan executor (role all) evaluates applied plans' gates and steps.
  absl::Duration executor_every = absl::Seconds(1);
  // The key ring that signs and verifies snapshots, telemetry and heartbeats
  // (base/message_auth.h); "" = STATE_DIR/message-key, created if missing. Processes of one
  // deployment on different hosts (relay, appliers, control) must share it.
  std::string message_key_file;
  // Where breaker, plan, divergence and reconciliation events are POSTed (webhooks.h).
  std::vector<WebhookConfig> webhooks;
  WebhookOptions webhook_options;
  CdcConfig cdc;
};

// The tables a plan's domains follow (those with a `source`).
std::vector<shadow::CdcTable> CdcTables(const migrations::Plan& plan);

// Reads `path`. Unknown keys and bad values are kInvalidArgument with FILE:LINE:COL.
//   state_dir: ./cmo-state
//   listen: 127.0.0.1:7070            (HTTP API, /metrics, dashboard; "" turns it off)
//   kafka: {brokers: embedded, partitions: 4}
//   kafka: {brokers: "k1:9092,k2:9092", partitions: 8, replication_factor: 3,
//           telemetry_retention: 1h,
//           properties: {security.protocol: SASL_SSL, sasl.mechanisms: SCRAM-SHA-512,
//                        sasl.username: cmo, sasl.password: "file:/etc/cmo/kafka-password"},
//           transactional_id: cmo-relay-prod}     (relay in transactions; optional)
//   regions: [eu-west, us-east]       (embedded SQLite replicas in the state dir)
//   primary: postgresql://cmo@leader:5432/app      (default STATE_DIR/primary.db)
//   regions: [{name: eu-west, replica: postgresql://cmo@eu-db:5432/cmo}, us-east]
//   breaker: {short_window: 10s, long_window: 2m, cooldown: 30s, max_cooldown: 10m,
//             probe_for: 30s, evaluate_every: 100ms}     (all optional)
//   applier: {batch: 10000, linger: 5ms, linger_when_behind: 50ms}   (all optional)
//   plans: {evaluate_every: 1s}       (how often the plan executor evaluates gates)
//   message_key_file: /etc/cmo/message-key   (default STATE_DIR/message-key)
//   control_state: postgresql://cmo@control-db:5432/cmo   (role control; default
//                                     STATE_DIR/control.db)
//   advertise: http://cmo-1.internal:7070      (the API as other hosts reach it)
//   api_token_file: /etc/cmo/api-token         (default STATE_DIR/api-token)
//   tls: {cert_file: /etc/cmo/tls.crt, key_file: /etc/cmo/tls.key}   (HTTPS for the API)
//   cdc: {source: postgresql://cmo@leader:5432/app, plan: migrations/comments.yaml,
//        slot: cmo_cdc, publication: cmo_cdc, snapshot_rows_per_s: 20000,
//        max_retained_wal: 4GiB}        (follow the app's tables instead of cmo's outbox)
//   notifications: {max_attempts: 8, webhooks: [{url: https://hooks.example/cmo,
//                   events: [breaker, plan, divergence, reconcile], secret_file: /etc/cmo/hook,
//                   format: json|slack}]}
absl::StatusOr<ServeConfig> LoadServeConfig(const std::string& path);

// The settings of every Kafka client this process makes: the brokers at `bootstrap`, quiet
// logging, and kafka.properties.
base::KafkaConfig KafkaClientConfig(const ServeConfig& config, const std::string& bootstrap);

// Where the stores are: the configured URL, else the state dir's SQLite file.
std::string PrimaryUrl(const ServeConfig& config);
std::string ReplicaUrl(const ServeConfig& config, const std::string& region);
// Where followers tell clients to send writes: `advertise`, else http://LISTEN.
std::string AdvertisedUrl(const ServeConfig& config);

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_SERVE_CONFIG_H_
