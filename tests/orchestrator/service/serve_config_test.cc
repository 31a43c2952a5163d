#include "orchestrator/service/serve_config.h"

#include <fstream>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/cmo_cli.h"
#include "tests/status_matchers.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

class ServeConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path = cli_.dir() + "/serve.yaml";
    std::ofstream(path) << text;
    return path;
  }
  ::cmo::testing::CmoCli cli_;
};

TEST_F(ServeConfigTest, ReadsEveryField) {
  auto c = LoadServeConfig(
      Write("state_dir: /var/lib/cmo\nkafka: {brokers: 'k1:9092,k2:9092', partitions: 12}\n"
            "regions: [eu-west, ap-south]\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state_dir, "/var/lib/cmo");
  EXPECT_EQ(c->kafka_brokers, "k1:9092,k2:9092");
  EXPECT_EQ(c->kafka_partitions, 12);
  EXPECT_EQ(c->regions, (std::vector<std::string>{"eu-west", "ap-south"}));
  EXPECT_EQ(c->applier.batch, shadow::ApplierOptions{}.batch);  // defaults when absent
}

TEST_F(ServeConfigTest, ReadsTheMessageKeyFileAndRefusesBadRegions) {
  auto c = LoadServeConfig(Write("message_key_file: /etc/cmo/message-key\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->message_key_file, "/etc/cmo/message-key");
  EXPECT_EQ(c->control.message_key_file, "/etc/cmo/message-key") << "the control loop's too";
  EXPECT_THAT(LoadServeConfig(Write("regions: [eu-west, EU_East]\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("serve.yaml:1:20: region \"EU_East\" may contain only")));
}

TEST_F(ServeConfigTest, ReadsTheHighAvailabilityKeys) {
  auto c = LoadServeConfig(
      Write("control_state: postgresql://cmo@control-db:5432/cmo\n"
            "advertise: http://cmo-1.internal:7070\napi_token_file: /etc/cmo/api-token\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->control_state, "postgresql://cmo@control-db:5432/cmo");
  EXPECT_EQ(AdvertisedUrl(*c), "http://cmo-1.internal:7070");
  EXPECT_EQ(c->api_token_file, "/etc/cmo/api-token");
  auto d = LoadServeConfig(Write("listen: 10.0.0.5:7070\n"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(AdvertisedUrl(*d), "http://10.0.0.5:7070") << "the listen address by default";
  auto tls = LoadServeConfig(
      Write("listen: 10.0.0.5:7070\ntls: {cert_file: /etc/cmo/tls.crt, key_file: /etc/cmo/k}\n"));
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(tls->tls_cert_file, "/etc/cmo/tls.crt");
  EXPECT_EQ(tls->tls_key_file, "/etc/cmo/k");
  EXPECT_EQ(AdvertisedUrl(*tls), "https://10.0.0.5:7070");
  EXPECT_THAT(LoadServeConfig(Write("tls: {cert_file: /etc/cmo/tls.crt}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1:6: tls needs both files")));
  EXPECT_THAT(LoadServeConfig(Write("tls: {cert_file: a, key_file: b, ca: c}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ca")));
  // A shared control state is a server; a file would not be shared by anyone.
  EXPECT_THAT(LoadServeConfig(Write("control_state: /var/lib/cmo/control.db\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("1:16: control_state must be a postgresql://")));
  EXPECT_THAT(ParseServeRole("control"), ::cmo::testing::IsOk());
  EXPECT_THAT(ParseServeRole("leader"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("applier or control")));
}

TEST_F(ServeConfigTest, ReadsApplierBatching) {
  auto c =
      LoadServeConfig(Write("applier: {batch: 2000, linger: 0ms, linger_when_behind: 20ms}\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->applier.batch, 2000);
  EXPECT_EQ(c->applier.linger, absl::ZeroDuration());
  EXPECT_EQ(c->applier.linger_when_behind, absl::Milliseconds(20));
  EXPECT_THAT(LoadServeConfig(Write("applier: {batch: 0}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("1:18: applier.batch must be between 1 and 1000000")));
  EXPECT_THAT(LoadServeConfig(Write("applier:\n  linger: soon\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("2:11: applier.linger must be a duration")));
  EXPECT_THAT(
      LoadServeConfig(Write("applier: {lingr: 5ms}\n")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown key `lingr` in applier")));
  EXPECT_THAT(LoadServeConfig(Write("breaker: {cooldown: 0s}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("breaker.cooldown must be a positive duration")));
}

TEST_F(ServeConfigTest, ReadsServerStoreUrls) {
  auto c = LoadServeConfig(
      Write("state_dir: /var/lib/cmo\nprimary: postgresql://cmo@leader:5432/app\n"
            "regions:\n  - {name: eu-west, replica: 'postgresql://cmo:pw@eu-db/cmo'}\n"
            "  - us-east\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->regions, (std::vector<std::string>{"eu-west", "us-east"}));
  EXPECT_EQ(PrimaryUrl(*c), "postgresql://cmo@leader:5432/app");
  EXPECT_EQ(ReplicaUrl(*c, "eu-west"), "postgresql://cmo:pw@eu-db/cmo");
  EXPECT_EQ(ReplicaUrl(*c, "us-east"), "/var/lib/cmo/replica-us-east.db") << "embedded default";
  auto plain = LoadServeConfig(Write("state_dir: /s\n"));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(PrimaryUrl(*plain), "/s/primary.db");
  EXPECT_THAT(LoadServeConfig(Write("primary: mysql://x@y/z\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("serve.yaml:1:10: primary: unsupported store URL")));
  EXPECT_THAT(LoadServeConfig(Write("regions: [{replica: 'postgresql://h/db'}]\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("a region needs a name")));
  EXPECT_THAT(
      LoadServeConfig(Write("regions: [{name: eu-west, replia: x}]\n")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown key `replia` in a region")));
  EXPECT_THAT(LoadServeConfig(Write("regions: [eu-west, {name: eu-west}]\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("listed twice")));
}

TEST_F(ServeConfigTest, ReadsRealClusterSettingsWithSecretsFromFiles) {
  std::ofstream(cli_.dir() + "/kafka-password") << "s3cret\n";
  auto c = LoadServeConfig(
      Write("kafka:\n  brokers: 'k1:9092'\n  replication_factor: 3\n  telemetry_retention: 30m\n"
            "  properties:\n    security.protocol: SASL_SSL\n    sasl.password: 'file:" +
            cli_.dir() + "/kafka-password'\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka_replication_factor, 3);
  EXPECT_EQ(c->telemetry_retention, absl::Minutes(30));
  EXPECT_EQ(c->kafka_properties.at("sasl.password"), "s3cret") << "read from the file";
  const base::KafkaConfig kafka = KafkaClientConfig(*c, "k1:9092");
  EXPECT_EQ(kafka.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(kafka.at("bootstrap.servers"), "k1:9092");

  // A missing secret file names the setting and the file, never a value.
  absl::StatusOr<ServeConfig> missing =
      LoadServeConfig(Write("kafka: {properties: {sasl.password: 'file:/nonexistent/pw'}}\n"));
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("1:37: kafka property sasl.password: cannot read file "
                                          "/nonexistent/pw")));
  EXPECT_THAT(LoadServeConfig(Write("kafka: {properties: {bootstrap.servers: x}}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kafka.brokers")));
  EXPECT_THAT(LoadServeConfig(Write("kafka: {properties: {ssl.ca.location: [a, b]}}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("single value")));
  EXPECT_THAT(LoadServeConfig(Write("kafka: {replication_factor: 0}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("kafka.replication_factor must be between 1 and 32")));
}

TEST_F(ServeConfigTest, TheRelaysTransactionalIdIsItsOwnSetting) {
  auto c =
      LoadServeConfig(Write("kafka: {brokers: 'k1:9092', transactional_id: cmo-relay-prod}\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka_transactional_id, "cmo-relay-prod");
  // A config without `listen`: relay and applier roles serve no API unless told to.
  EXPECT_FALSE(c->listen_configured);
  EXPECT_TRUE(LoadServeConfig(Write("listen: 127.0.0.1:7071\n"))->listen_configured);
  // Not a property of every client: only the relay's producer may be transactional.
  EXPECT_FALSE(KafkaClientConfig(*c, "k1:9092").contains("transactional.id"));
  EXPECT_THAT(LoadServeConfig(Write("kafka: {properties: {transactional.id: x}}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("1:22: set the relay's transactional id with "
                                 "kafka.transactional_id")));
  EXPECT_THAT(LoadServeConfig(Write("kafka: {transactional_id: ''}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("kafka.transactional_id must be a name of 1 to 200 characters")));
  EXPECT_TRUE(
      LoadServeConfig(Write("kafka: {brokers: embedded}\n"))->kafka_transactional_id.empty());
}

TEST_F(ServeConfigTest, WebhooksAreReadWithTheirSecretsFromFiles) {
  std::ofstream(cli_.dir() + "/hook-secret") << "h00k\n";
  auto c = LoadServeConfig(Write(
      "notifications:\n  max_attempts: 4\n  webhooks:\n"
      "    - {url: 'https://hooks.example/cmo', events: [breaker, divergence], secret_file: " +
      cli_.dir() + "/hook-secret}\n    - {url: 'http://127.0.0.1:9000/x', format: slack}\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->webhooks.size(), 2u);
  EXPECT_EQ(c->webhook_options.max_attempts, 4);
  EXPECT_EQ(c->webhooks[0].url, "https://hooks.example/cmo");
  EXPECT_EQ(c->webhooks[0].events, (std::set<std::string>{"breaker", "divergence"}));
  EXPECT_EQ(c->webhooks[0].secret, "h00k");
  EXPECT_FALSE(c->webhooks[0].slack);
  EXPECT_TRUE(c->webhooks[1].events.empty()) << "no list: every event";
  EXPECT_TRUE(c->webhooks[1].slack);

  EXPECT_THAT(LoadServeConfig(Write("notifications: {webhooks: [{url: x, events: [breaker]}]}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("1:34: webhook url x: must start with http:// or https://")));
  EXPECT_THAT(
      LoadServeConfig(Write("notifications: {webhooks: [{url: 'http://h', events: [trips]}]}\n")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown webhook event `trips`")));
  EXPECT_THAT(LoadServeConfig(Write(
                  "notifications: {webhooks: [{url: 'http://h', secret_file: /nonexistent}]}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("webhook secret_file /nonexistent cannot be read")));
  EXPECT_THAT(
      LoadServeConfig(Write("notifications: {webhooks: [{url: 'http://h', format: xml}]}\n")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("json (default) or slack")));
  EXPECT_THAT(LoadServeConfig(Write("notifications: {webhooks: [{events: [plan]}]}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs at least a url")));
}

TEST_F(ServeConfigTest, BadConfigsSayWhereAndWhat) {
  const std::string path = Write("kafka: {brokers: embedded, partitons: 4}\n");
  EXPECT_THAT(LoadServeConfig(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path + ":1:28: unknown key `partitons` in kafka")));
  EXPECT_THAT(LoadServeConfig(Write("regions: []\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("non-empty list")));
  EXPECT_THAT(LoadServeConfig(Write("kafka: {partitions: 0}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("between 1 and 1024")));
  EXPECT_THAT(LoadServeConfig(Write("regions: [a\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("serve.yaml:2:1")));
  EXPECT_THAT(LoadServeConfig(cli_.dir() + "/missing.yaml"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot read")));
}

TEST_F(ServeConfigTest, TheBinaryExits2OnABadConfig) {
  const std::string path = Write("stat_dir: x\n");
  ::cmo::testing::RunResult r = cli_.Run({"serve", "--config", path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(path + ":1:1: unknown key `stat_dir` in the config"));
}

}  // namespace
}  // namespace cmo::orchestrator
