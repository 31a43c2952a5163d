// What deploy/ ships, against the real thing: every alert rule of
// deploy/prometheus/cmo-alerts.yaml is well formed (alert, expr, severity, summary, a runbook
// that exists), every panel of deploy/grafana/cmo-dashboard.json has a query, and every cmo
// series either uses is a family that a running `cmo serve` (data path and webhooks on)
// declares in /metrics — a renamed metric cannot leave an alert or a panel silently matching
// nothing. promtool (Prometheus's own checker) accepts the rules, passes their unit tests
// (deploy/prometheus/cmo-alerts.test.yaml, which must cover every alert) and lints what
// `cmo serve` exposes with an op mid-plan.
#include <httplib.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/fakes/cmo_cli.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"

namespace cmo {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const fs::path kRules = fs::path(CMO_SOURCE_DIR) / "deploy/prometheus/cmo-alerts.yaml";

const fs::path kRuleTests = fs::path(CMO_SOURCE_DIR) / "deploy/prometheus/cmo-alerts.test.yaml";

struct Served {
  std::set<std::string> families;  // declared by # TYPE lines
  std::string body;
};

// What `cmo serve` exposes with an op mid-plan (so the per-op and plan series have samples),
// the data path on and a webhook configured.
Served ServedMetrics() {
  testing::CmoCli cli;
  const std::string plan = cli.dir() + "/plan.yaml";
  std::ofstream(plan) << R"(version: 1
name: likes
operations:
  - {op: post.like, kind: read, domain: likes, target: eventual}
phases:
  - name: likes
    ops: [post.like]
    steps: [dual_write, shadow, {ramp: {to: 10%}}]
)";
  cli.Ok({"plan", "apply", plan, "--reason", "deploy test"});
  const std::string config = cli.dir() + "/serve.yaml";
  std::ofstream(config) << "regions: [eu-west]\nnotifications:\n  webhooks:\n"
                           "    - {url: 'http://127.0.0.1:9/hook', events: [breaker]}\n";
  testing::Child serve({CMO_BINARY, "--state-dir", cli.StateDir(), "serve", "--config", config,
                        "--listen", "127.0.0.1:0"});
  std::string url;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        url.clear();
        std::getline(std::ifstream(cli.StateDir() + "/api-url"), url);
        return !url.empty();
      },
      30s));
  Served served;
  httplib::Client http(url);
  // The plan's first step has begun by the first tick.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        const httplib::Result r = http.Get("/metrics");
        if (r && r->status == 200) served.body = r->body;
        return served.body.find("cmo_plan_step_age_seconds{") != std::string::npos;
      },
      30s))
      << served.body;
  const std::regex type(R"(# TYPE (\S+) \S+)");
  for (std::sregex_iterator it(served.body.begin(), served.body.end(), type), end; it != end;
       ++it) {
    served.families.insert((*it)[1]);
  }
  serve.Kill(SIGTERM);
  serve.Wait();
  return served;
}

class DeployTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { served_ = new Served(ServedMetrics()); }
  static void TearDownTestSuite() { delete served_; }

  // Every cmo series of a PromQL expression is served (a histogram's _bucket/_sum/_count by
  // its family).
  static void ExpectServed(const std::string& expr) {
    const std::set<std::string>& families = served_->families;
    ASSERT_GT(families.size(), 20u);
    ASSERT_TRUE(families.count("cmo_replication_lag_seconds")) << "data path metrics missing";
    const std::regex series(R"(\bcmo_[a-z0-9_]+)");
    for (std::sregex_iterator it(expr.begin(), expr.end(), series), end; it != end; ++it) {
      std::string name = (*it)[0];
      for (const std::string s : {"_bucket", "_sum", "_count"}) {
        if (!families.count(name) && name.size() > s.size() &&
            name.compare(name.size() - s.size(), s.size(), s) == 0 &&
            families.count(name.substr(0, name.size() - s.size()))) {
          name = name.substr(0, name.size() - s.size());
        }
      }
      // Change data capture's series need a source database: e2e_cdc_fault_test checks them.
      if (name.starts_with("cmo_cdc_")) continue;
      EXPECT_TRUE(families.count(name)) << name << " is not served by cmo serve";
    }
  }

  static Served* served_;
};
Served* DeployTest::served_ = nullptr;

TEST_F(DeployTest, EveryAlertRuleIsCompleteAndEveryCmoSeriesIsServed) {
  YAML::Node doc = YAML::LoadFile(kRules.string());
  ASSERT_TRUE(doc["groups"].IsSequence());
  std::set<std::string> names;
  int rules = 0;
  for (const YAML::Node& group : doc["groups"]) {
    ASSERT_TRUE(group["name"] && group["rules"].IsSequence());
    for (const YAML::Node& rule : group["rules"]) {
      ++rules;
      const std::string alert = rule["alert"].as<std::string>("");
      SCOPED_TRACE(alert);
      EXPECT_TRUE(std::regex_match(alert, std::regex("Cmo[A-Z][A-Za-z]+")));
      EXPECT_TRUE(names.insert(alert).second) << "duplicate alert name";
      const std::string expr = rule["expr"].as<std::string>("");
      EXPECT_FALSE(expr.empty());
      const std::string severity = rule["labels"]["severity"].as<std::string>("");
      EXPECT_TRUE(severity == "page" || severity == "ticket") << severity;
      EXPECT_FALSE(rule["annotations"]["summary"].as<std::string>("").empty());
      const std::string runbook = rule["annotations"]["runbook"].as<std::string>("");
      ASSERT_TRUE(fs::exists(fs::path(CMO_SOURCE_DIR) / runbook)) << runbook;
      // And the runbook names the alert, so whoever lands there knows it is the right page.
      std::stringstream text;
      text << std::ifstream(fs::path(CMO_SOURCE_DIR) / runbook).rdbuf();
      EXPECT_NE(text.str().find("`" + alert + "`"), std::string::npos)
          << runbook << " does not name " << alert;
      ExpectServed(expr);
    }
  }
  EXPECT_GE(rules, 10);
  // The alerts the operators' runbooks rely on are there.
  for (const char* must : {"CmoBreakerOpen", "CmoBudgetFastBurn", "CmoBudgetSlowBurn",
                           "CmoReplicaRegionSilent", "CmoOutboxGrowing", "CmoPlanStuck"}) {
    EXPECT_TRUE(names.count(must)) << must;
  }
}

TEST_F(DeployTest, EveryGrafanaPanelQueriesServedSeries) {
  std::ifstream in(fs::path(CMO_SOURCE_DIR) / "deploy/grafana/cmo-dashboard.json");
  const nlohmann::json dash = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(dash.is_object()) << "not JSON";
  ASSERT_TRUE(dash["panels"].is_array());
  std::set<int> ids;
  for (const nlohmann::json& panel : dash["panels"]) {
    SCOPED_TRACE(panel.value("title", "?"));
    EXPECT_FALSE(panel.value("title", "").empty());
    EXPECT_TRUE(ids.insert(panel.value("id", -1)).second) << "duplicate panel id";
    ASSERT_TRUE(panel["targets"].is_array() && !panel["targets"].empty());
    for (const nlohmann::json& target : panel["targets"]) {
      const std::string expr = target.value("expr", "");
      EXPECT_FALSE(expr.empty());
      ExpectServed(expr);
    }
  }
  EXPECT_GE(ids.size(), 10u);
}

TEST_F(DeployTest, PromtoolAcceptsTheRulesAndTheirUnitTestsCoverEveryAlert) {
  testing::RunResult check = testing::Run({"/usr/bin/promtool", "check", "rules", kRules.string()});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  testing::RunResult unit =
      testing::Run({"/usr/bin/promtool", "test", "rules", kRuleTests.string()});
  EXPECT_EQ(unit.exit_code, 0) << unit.out << unit.err;
  std::set<std::string> tested;
  for (const YAML::Node& test : YAML::LoadFile(kRuleTests.string())["tests"]) {
    for (const YAML::Node& t : test["alert_rule_test"]) {
      if (t["exp_alerts"].size() > 0) tested.insert(t["alertname"].as<std::string>());
    }
  }
  for (const YAML::Node& group : YAML::LoadFile(kRules.string())["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      EXPECT_TRUE(tested.count(rule["alert"].as<std::string>()))
          << rule["alert"] << " has no unit test that makes it fire";
    }
  }
}

TEST_F(DeployTest, PromtoolLintsWhatCmoServesClean) {
  ASSERT_NE(served_->body.find("cmo_op_stage_info{"), std::string::npos) << served_->body;
  testing::TempDir dir;
  std::ofstream(dir.File("metrics.txt")) << served_->body;
  testing::RunResult lint = testing::Run(
      {"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + dir.File("metrics.txt")});
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
  EXPECT_EQ(lint.out + lint.err, "");
}

}  // namespace
}  // namespace cmo
