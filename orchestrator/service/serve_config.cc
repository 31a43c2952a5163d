#include "orchestrator/service/serve_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <span>

#include "absl/strings/numbers.h"
#include "base/kafka.h"
#include "base/names.h"
#include "base/strings.h"
#include "base/units.h"
#include "migrations/plan_parser.h"
#include "shadow/state_layout.h"
#include "store/store_url.h"

namespace cmo::orchestrator {
namespace {

std::string Where(const std::string& path, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return base::StrCat(path, ":", m.line + 1, ":", m.column + 1, ": ");
}

absl::Status CheckKeys(const std::string& path, const YAML::Node& map,
                       const std::set<std::string>& known, std::string_view what) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    if (!known.contains(key.Scalar())) {
      return absl::InvalidArgumentError(
          base::StrCat(Where(path, key), "unknown key `", key.Scalar(), "` in ", what,
                       "; expected one of: ", base::StrJoin(known, ", ")));
    }
  }
  return absl::OkStatus();
}

// Reads the optional duration fields of section `what` (a mapping already key-checked).
absl::Status ReadDurations(const std::string& path, const YAML::Node& section,
                           std::string_view what,
                           std::span<const std::pair<const char*, absl::Duration*>> fields,
                           bool zero_ok) {
  for (const auto& [name, field] : fields) {
    if (!section[name]) continue;
    absl::StatusOr<absl::Duration> d = base::ParseDuration(section[name].as<std::string>());
    if (!d.ok() || *d < absl::ZeroDuration() || (*d == absl::ZeroDuration() && !zero_ok)) {
      return absl::InvalidArgumentError(base::StrCat(
          Where(path, section[name]), what, ".", name, " must be a ",
          zero_ok ? "duration (0 or more)" : "positive duration", " such as 500ms, 30s or 5m"));
    }
    *field = *d;
  }
  return absl::OkStatus();
}

// "4GiB", "512MiB", "1000000" (bytes).
std::optional<int64_t> ParseBytes(std::string text) {
  static const std::pair<const char*, int64_t> kUnits[] = {{"GiB", int64_t{1} << 30},
                                                           {"MiB", int64_t{1} << 20},
                                                           {"KiB", int64_t{1} << 10},
                                                           {"GB", 1'000'000'000},
                                                           {"MB", 1'000'000},
                                                           {"KB", 1'000},
                                                           {"B", 1}};
  int64_t unit = 1;
  for (const auto& [suffix, bytes] : kUnits) {
    if (text.ends_with(suffix)) {
      text.resize(text.size() - std::string_view(suffix).size());
      unit = bytes;
      break;
    }
  }
  int64_t n = 0;
  if (text.empty() || !absl::SimpleAtoi(text, &n) || n <= 0 || n > INT64_MAX / unit) {
    return std::nullopt;
  }
  return n * unit;
}

// cdc: {source, plan, slot, publication, snapshot_rows_per_s, max_retained_wal}
absl::Status ReadCdc(const std::string& path, const YAML::Node& c, CdcConfig& out) {
  auto bad = [&](const YAML::Node& n, std::string_view what) {
    return absl::InvalidArgumentError(base::StrCat(Where(path, n), what));
  };
  if (!c.IsMap()) {
    return bad(c,
               "cdc must be a mapping, e.g. {source: postgresql://cmo@leader/app, plan: "
               "migrations/comments.yaml}");
  }
  if (auto s = CheckKeys(
          path, c,
          {"source", "plan", "slot", "publication", "snapshot_rows_per_s", "max_retained_wal"},
          "cdc");
      !s.ok()) {
    return s;
  }
  if (!c["source"] || !c["plan"]) {
    return bad(c,
               "cdc needs `source` (the app's database, postgresql://...) and `plan` (the "
               "plan whose domains name the tables to follow)");
  }
  out.source = c["source"].as<std::string>();
  if (!out.source.starts_with("postgresql://") && !out.source.starts_with("postgres://")) {
    return bad(c["source"], "cdc.source must be a PostgreSQL URI (postgresql://USER@HOST/DB)");
  }
  out.plan_file = c["plan"].as<std::string>();
  if (!out.plan_file.starts_with("/")) {  // relative to the config file
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos) out.plan_file = path.substr(0, slash + 1) + out.plan_file;
  }
  absl::StatusOr<std::string> text = migrations::ReadPlanText(out.plan_file);
  if (!text.ok()) return bad(c["plan"], base::StrCat("cdc.plan: ", text.status().message()));
  migrations::ParseResult plan = migrations::ParsePlan(*text);
  if (!plan.ok()) {
    return bad(c["plan"],
               base::StrCat("cdc.plan is not a valid plan: ",
                            migrations::FormatDiagnostic(out.plan_file, plan.errors.front()),
                            " (cmo plan validate ", out.plan_file, ")"));
  }
  out.options.tables = CdcTables(plan.plan);
  if (out.options.tables.empty()) {
    return bad(c["plan"], base::StrCat("cdc.plan ", out.plan_file,
                                       " names no table to follow: "
                                       "add domains: [{name: comments, source: {table: "
                                       "public.comments, key: [id]}}]"));
  }
  for (const shadow::CdcTable& t : out.options.tables) out.domains.push_back(t.domain);
  for (const char* name : {"slot", "publication"}) {
    if (!c[name]) continue;
    const std::string v = c[name].as<std::string>();
    if (v.empty() ||
        v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
      return bad(c[name], base::StrCat("cdc.", name, " must be lower-case letters, digits and _"));
    }
    (std::string_view(name) == "slot" ? out.options.slot : out.options.publication) = v;
  }
  if (const YAML::Node r = c["snapshot_rows_per_s"]) {
    double v = 0;
    if (!absl::SimpleAtod(r.as<std::string>(), &v) || v < 0) {
      return bad(r, "cdc.snapshot_rows_per_s must be a number of rows per second (0: no limit)");
    }
    out.options.snapshot_rows_per_s = v;
  }
  if (const YAML::Node m = c["max_retained_wal"]) {
    std::optional<int64_t> v = ParseBytes(m.as<std::string>());
    if (!v.has_value()) return bad(m, "cdc.max_retained_wal must be a size such as 4GiB or 512MiB");
    out.options.max_retained_wal_bytes = *v;
  }
  return absl::OkStatus();
}

absl::Status ReadApplier(const std::string& path, const YAML::Node& a,
                         shadow::ApplierOptions& out) {
  if (!a.IsMap()) {
    return absl::InvalidArgumentError(
        base::StrCat(Where(path, a), "applier must be a mapping, e.g. {batch: 10000}"));
  }
  if (auto s = CheckKeys(path, a, {"batch", "linger", "linger_when_behind"}, "applier"); !s.ok()) {
    return s;
  }
  if (a["batch"]) {
    out.batch = a["batch"].as<int>();
    if (out.batch < 1 || out.batch > 1'000'000) {
      return absl::InvalidArgumentError(
          base::StrCat(Where(path, a["batch"]), "applier.batch must be between 1 and 1000000"));
    }
  }
  const std::pair<const char*, absl::Duration*> fields[] = {
      {"linger", &out.linger}, {"linger_when_behind", &out.linger_when_behind}};
  return ReadDurations(path, a, "applier", fields, /*zero_ok=*/true);
}

absl::Status CheckStoreUrl(const std::string& path, const YAML::Node& n, std::string_view what) {
  if (absl::StatusOr<store::StoreUrl> url = store::ParseStoreUrl(n.as<std::string>()); !url.ok()) {
    return absl::InvalidArgumentError(
        base::StrCat(Where(path, n), what, ": ", url.status().message()));
  }
  return absl::OkStatus();
}

// A region: its name (embedded SQLite replica in the state dir), or {name, replica: URL}.
absl::Status ReadRegion(const std::string& path, const YAML::Node& r, ServeConfig& config) {
  const YAML::Node name = r.IsMap() ? r["name"] : r;
  if (r.IsMap()) {
    if (auto s = CheckKeys(path, r, {"name", "replica"}, "a region"); !s.ok()) return s;
    if (!name) {
      return absl::InvalidArgumentError(
          base::StrCat(Where(path, r),
                       "a region needs a name, e.g. {name: eu-west, replica: postgresql://...}"));
    }
  }
  if (!name.IsScalar()) {
    return absl::InvalidArgumentError(
        base::StrCat(Where(path, r), "a region is a name or {name: NAME, replica: URL}"));
  }
  const std::string region = name.as<std::string>();
  if (absl::Status s = base::ValidateName("region", region, "eu-west"); !s.ok()) {
    return absl::InvalidArgumentError(base::StrCat(Where(path, name), s.message()));
  }
  if (std::find(config.regions.begin(), config.regions.end(), region) != config.regions.end()) {
    return absl::InvalidArgumentError(
        base::StrCat(Where(path, name), "region ", region, " is listed twice"));
  }
  config.regions.push_back(region);
  if (r.IsMap() && r["replica"]) {
    if (auto s = CheckStoreUrl(path, r["replica"], "replica"); !s.ok()) return s;
    config.replicas[region] = r["replica"].as<std::string>();
  }
  return absl::OkStatus();
}

absl::Status ReadKafka(const std::string& path, const YAML::Node& kafka, ServeConfig& config) {
  if (!kafka.IsMap()) {
    return absl::InvalidArgumentError(
        base::StrCat(Where(path, kafka), "kafka must be a mapping, e.g. {brokers: embedded}"));
  }
  if (auto s = CheckKeys(path, kafka,
                         {"brokers", "partitions", "replication_factor", "telemetry_retention",
                          "properties", "transactional_id"},
                         "kafka");
      !s.ok()) {
    return s;
  }
  if (kafka["brokers"]) config.kafka_brokers = kafka["brokers"].as<std::string>();
  if (const YAML::Node id = kafka["transactional_id"]) {
    config.kafka_transactional_id = id.Scalar();
    if (!id.IsScalar() || config.kafka_transactional_id.empty() ||
        config.kafka_transactional_id.size() > 200) {
      return absl::InvalidArgumentError(
          base::StrCat(Where(path, id),
                       "kafka.transactional_id must be a name of 1 to 200 characters, the same "
                       "for every relay of this deployment, e.g. cmo-relay-prod"));
    }
  }
  const std::pair<const char*, std::pair<int*, int>> ints[] = {
      {"partitions", {&config.kafka_partitions, 1024}},
      {"replication_factor", {&config.kafka_replication_factor, 32}}};
  for (const auto& [name, field] : ints) {
    if (!kafka[name]) continue;
    *field.first = kafka[name].as<int>();
    if (*field.first < 1 || *field.first > field.second) {
      return absl::InvalidArgumentError(base::StrCat(Where(path, kafka[name]), "kafka.", name,
                                                     " must be between 1 and ", field.second));
    }
  }
  const std::pair<const char*, absl::Duration*> durations[] = {
      {"telemetry_retention", &config.telemetry_retention}};
  if (auto s = ReadDurations(path, kafka, "kafka", durations, /*zero_ok=*/false); !s.ok()) {
    return s;
  }
  if (const YAML::Node props = kafka["properties"]) {
    if (!props.IsMap()) {
      return absl::InvalidArgumentError(base::StrCat(
          Where(path, props),
          "kafka.properties must be a mapping of librdkafka settings, e.g. "
          "{security.protocol: SASL_SSL, sasl.password: file:/etc/cmo/kafka-password}"));
    }
    for (auto it = props.begin(); it != props.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (!it->second.IsScalar()) {
        return absl::InvalidArgumentError(base::StrCat(Where(path, it->second), "kafka.properties.",
                                                       key, " must be a single value"));
      }
      if (key == "bootstrap.servers") {
        return absl::InvalidArgumentError(base::StrCat(
            Where(path, it->first), "set the brokers with kafka.brokers, not in kafka.properties"));
      }
      if (key == "transactional.id") {
        // kafka.properties reach every client; only the relay's producer may be transactional.
        return absl::InvalidArgumentError(
            base::StrCat(Where(path, it->first),
                         "set the relay's transactional id with kafka.transactional_id, not in "
                         "kafka.properties"));
      }
      absl::StatusOr<std::string> value = base::ResolveKafkaProperty(key, it->second.Scalar());
      if (!value.ok()) {
        return absl::InvalidArgumentError(
            base::StrCat(Where(path, it->second), value.status().message()));
      }
      config.kafka_properties[key] = *std::move(value);
    }
  }
  return absl::OkStatus();
}

// notifications: {webhooks: [{url, events, secret_file, format}], max_attempts}
absl::Status ReadNotifications(const std::string& path, const YAML::Node& n, ServeConfig& config) {
  if (!n.IsMap()) {
    return absl::InvalidArgumentError(base::StrCat(
        Where(path, n), "notifications must be a mapping, e.g. {webhooks: [{url: https://...}]}"));
  }
  if (auto s = CheckKeys(path, n, {"webhooks", "max_attempts"}, "notifications"); !s.ok()) {
    return s;
  }
  if (const YAML::Node m = n["max_attempts"]) {
    config.webhook_options.max_attempts = m.as<int>();
    if (config.webhook_options.max_attempts < 1 || config.webhook_options.max_attempts > 100) {
      return absl::InvalidArgumentError(
          base::StrCat(Where(path, m), "notifications.max_attempts must be between 1 and 100"));
    }
  }
  const YAML::Node hooks = n["webhooks"];
  if (!hooks) return absl::OkStatus();
  if (!hooks.IsSequence()) {
    return absl::InvalidArgumentError(base::StrCat(
        Where(path, hooks), "notifications.webhooks must be a list of {url: ..., events: [...]}"));
  }
  const std::set<std::string> known(std::begin(kWebhookEvents), std::end(kWebhookEvents));
  for (const YAML::Node& h : hooks) {
    if (!h.IsMap() || !h["url"]) {
      return absl::InvalidArgumentError(base::StrCat(
          Where(path, h), "a webhook needs at least a url, e.g. {url: https://hooks.example/cmo}"));
    }
    if (auto s = CheckKeys(path, h, {"url", "events", "secret_file", "format"}, "a webhook");
        !s.ok()) {
      return s;
    }
    WebhookConfig w;
    w.url = h["url"].as<std::string>();
    if (absl::Status s = ValidateWebhookUrl(w.url); !s.ok()) {
      return absl::InvalidArgumentError(base::StrCat(Where(path, h["url"]), s.message()));
    }
    if (const YAML::Node events = h["events"]) {
      for (const YAML::Node& e : events) {
        if (!known.contains(e.Scalar())) {
          return absl::InvalidArgumentError(
              base::StrCat(Where(path, e), "unknown webhook event `", e.Scalar(),
                           "`; expected some of: ", base::StrJoin(known, ", ")));
        }
        w.events.insert(e.Scalar());
      }
    }
    if (const YAML::Node f = h["format"]) {
      if (f.Scalar() != "json" && f.Scalar() != "slack") {
        return absl::InvalidArgumentError(
            base::StrCat(Where(path, f), "webhook format must be json (default) or slack"));
      }
      w.slack = f.Scalar() == "slack";
    }
    if (const YAML::Node sf = h["secret_file"]) {
      // The secret lives in a file an operator protects, never in the config (never logged).
      absl::StatusOr<std::string> secret =
          base::ResolveKafkaProperty("secret_file", "file:" + sf.Scalar());
      if (!secret.ok() || secret->empty()) {
        return absl::InvalidArgumentError(
            base::StrCat(Where(path, sf), "webhook secret_file ", sf.Scalar(),
                         " cannot be read or is empty; check that it exists and cmo may read it"));
      }
      w.secret = *std::move(secret);
    }
    config.webhooks.push_back(std::move(w));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<shadow::CdcTable> CdcTables(const migrations::Plan& plan) {
  std::vector<shadow::CdcTable> out;
  for (const migrations::Domain& d : plan.domains) {
    if (d.has_source) out.push_back({d.name, d.source.table, d.source.key, d.source.subject});
  }
  return out;
}

base::KafkaConfig KafkaClientConfig(const ServeConfig& config, const std::string& bootstrap) {
  base::KafkaConfig out(config.kafka_properties.begin(), config.kafka_properties.end());
  out["bootstrap.servers"] = bootstrap;
  out.emplace("log_level", "3");
  return out;
}

std::string PrimaryUrl(const ServeConfig& config) {
  return config.primary.empty() ? shadow::PrimaryPath(config.state_dir) : config.primary;
}

std::string ReplicaUrl(const ServeConfig& config, const std::string& region) {
  auto it = config.replicas.find(region);
  return it == config.replicas.end() ? shadow::ReplicaPath(config.state_dir, region) : it->second;
}

std::string AdvertisedUrl(const ServeConfig& config) {
  if (!config.advertise.empty()) return config.advertise;
  return base::StrCat(config.tls_cert_file.empty() ? "http://" : "https://", config.listen);
}

absl::StatusOr<ServeRole> ParseServeRole(std::string_view text) {
  if (text == "all") return ServeRole::kAll;
  if (text == "kafka") return ServeRole::kKafka;
  if (text == "relay") return ServeRole::kRelay;
  if (text == "applier") return ServeRole::kApplier;
  if (text == "control") return ServeRole::kControl;
  return absl::InvalidArgumentError(
      base::StrCat("unknown role \"", text, "\"; expected all, kafka, relay, applier or control"));
}

absl::StatusOr<ServeConfig> LoadServeConfig(const std::string& path) {
  ServeConfig config;
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (root.IsNull()) return config;
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          base::StrCat(Where(path, root), "the config must be a mapping of `key: value` lines"));
    }
    if (auto s = CheckKeys(path, root,
                           {"state_dir", "listen", "kafka", "primary", "regions", "breaker",
                            "applier", "plans", "message_key_file", "control_state", "advertise",
                            "api_token_file", "notifications", "tls", "cdc"},
                           "the config");
        !s.ok()) {
      return s;
    }
    if (root["state_dir"]) config.state_dir = root["state_dir"].as<std::string>();
    if (root["listen"]) {
      config.listen = root["listen"].as<std::string>();
      config.listen_configured = true;
    }
    if (root["primary"]) {
      config.primary = root["primary"].as<std::string>();
      if (absl::Status s = CheckStoreUrl(path, root["primary"], "primary"); !s.ok()) return s;
    }
    if (const YAML::Node c = root["cdc"]) {
      if (absl::Status s = ReadCdc(path, c, config.cdc); !s.ok()) return s;
    }
    if (const YAML::Node c = root["control_state"]) {
      config.control_state = c.as<std::string>();
      if (absl::Status s = CheckStoreUrl(path, c, "control_state"); !s.ok()) return s;
      if (!config.control_state.starts_with("postgres")) {
        return absl::InvalidArgumentError(base::StrCat(
            Where(path, c),
            "control_state must be a postgresql://USER@HOST:PORT/DB URL (the "
            "state several cmo serve instances share); leave it out for STATE_DIR/control.db"));
      }
    }
    if (root["advertise"]) config.advertise = root["advertise"].as<std::string>();
    if (root["api_token_file"]) config.api_token_file = root["api_token_file"].as<std::string>();
    if (const YAML::Node tls = root["tls"]) {
      if (!tls.IsMap() || !tls["cert_file"] || !tls["key_file"]) {
        return absl::InvalidArgumentError(
            base::StrCat(Where(path, tls),
                         "tls needs both files: {cert_file: /etc/cmo/tls.crt, key_file: "
                         "/etc/cmo/tls.key} (PEM)"));
      }
      if (auto s = CheckKeys(path, tls, {"cert_file", "key_file"}, "tls"); !s.ok()) return s;
      config.tls_cert_file = tls["cert_file"].as<std::string>();
      config.tls_key_file = tls["key_file"].as<std::string>();
    }
    if (root["message_key_file"]) {
      config.message_key_file = root["message_key_file"].as<std::string>();
      config.control.message_key_file = config.message_key_file;
    }
    if (const YAML::Node kafka = root["kafka"]) {
      if (auto s = ReadKafka(path, kafka, config); !s.ok()) return s;
    }
    if (const YAML::Node regions = root["regions"]) {
      if (!regions.IsSequence() || regions.size() == 0) {
        return absl::InvalidArgumentError(base::StrCat(
            Where(path, regions), "regions must be a non-empty list, e.g. [eu-west, us-east]"));
      }
      config.regions.clear();
      for (const YAML::Node& r : regions) {
        if (absl::Status s = ReadRegion(path, r, config); !s.ok()) return s;
      }
    }
    if (const YAML::Node b = root["breaker"]) {
      if (!b.IsMap()) {
        return absl::InvalidArgumentError(base::StrCat(
            Where(path, b), "breaker must be a mapping, e.g. {cooldown: 30s, probe_for: 30s}"));
      }
      if (auto s = CheckKeys(path, b,
                             {"short_window", "long_window", "cooldown", "max_cooldown",
                              "probe_for", "evaluate_every"},
                             "breaker");
          !s.ok()) {
        return s;
      }
      BudgetControllerOptions& bo = config.control.budget;
      const std::pair<const char*, absl::Duration*> fields[] = {
          {"short_window", &bo.short_window},   {"long_window", &bo.long_window},
          {"cooldown", &bo.breaker.cooldown},   {"max_cooldown", &bo.breaker.max_cooldown},
          {"probe_for", &bo.breaker.probe_for}, {"evaluate_every", &config.control.evaluate_every}};
      if (auto s = ReadDurations(path, b, "breaker", fields, /*zero_ok=*/false); !s.ok()) {
        return s;
      }
    }
    if (const YAML::Node a = root["applier"]) {
      if (auto s = ReadApplier(path, a, config.applier); !s.ok()) return s;
    }
    if (const YAML::Node n = root["notifications"]) {
      if (auto s = ReadNotifications(path, n, config); !s.ok()) return s;
    }
    if (const YAML::Node p = root["plans"]) {
      if (!p.IsMap()) {
        return absl::InvalidArgumentError(
            base::StrCat(Where(path, p), "plans must be a mapping, e.g. {evaluate_every: 1s}"));
      }
      if (auto s = CheckKeys(path, p, {"evaluate_every"}, "plans"); !s.ok()) return s;
      const std::pair<const char*, absl::Duration*> fields[] = {
          {"evaluate_every", &config.executor_every}};
      if (auto s = ReadDurations(path, p, "plans", fields, /*zero_ok=*/false); !s.ok()) return s;
    }
  } catch (const YAML::BadFile&) {
    return absl::InvalidArgumentError(
        base::StrCat(path, ": cannot read the config file; check the path"));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        base::StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  for (const std::string& r : config.regions) {
    if (r.empty() || r.find_first_of("/ ") != std::string::npos) {
      return absl::InvalidArgumentError(
          base::StrCat(path, ": region \"", r, "\" must be a non-empty name without / or spaces"));
    }
  }
  return config;
}

}  // namespace cmo::orchestrator
