// What deploy/ ships, against the real thing: every alert rule of
// deploy/prometheus/cmo-alerts.yaml is well formed (alert, expr, severity, summary, a runbook
// that exists), every panel of deploy/grafana/cmo-dashboard.json has a query, and every cmo
// series either uses is a family that a running `cmo serve` (data path and webhooks on)
// declares in /metrics — a renamed metric cannot leave an alert or a panel silently matching
// nothing. (PromQL syntax itself is promtool's to check; see the rules file's header.)
#include <httplib.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"

namespace cmo {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const fs::path kRules = fs::path(CMO_SOURCE_DIR) / "deploy/prometheus/cmo-alerts.yaml";

// The metric families `cmo serve` declares (# TYPE lines) on a fresh state dir.
std::set<std::string> ServedFamilies() {
  testing::TempDir dir;
  const std::string state = dir.File("state");
  const std::string config = dir.File("serve.yaml");
  std::ofstream(config) << "regions: [eu-west]\nnotifications:\n  webhooks:\n"
                           "    - {url: 'http://127.0.0.1:9/hook', events: [breaker]}\n";
  testing::Child serve(
      {CMO_BINARY, "--state-dir", state, "serve", "--config", config, "--listen", "127.0.0.1:0"});
  std::string url;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        url.clear();
        std::getline(std::ifstream(state + "/api-url"), url);
        return !url.empty();
      },
      30s));
  std::set<std::string> families;
  httplib::Client http(url);
  const httplib::Result r = http.Get("/metrics");
  EXPECT_TRUE(r && r->status == 200);
  if (r) {
    const std::regex type(R"(# TYPE (\S+) \S+)");
    for (std::sregex_iterator it(r->body.begin(), r->body.end(), type), end; it != end; ++it) {
      families.insert((*it)[1]);
    }
  }
  serve.Kill(SIGTERM);
  serve.Wait();
  return families;
}

class DeployTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { families_ = new std::set<std::string>(ServedFamilies()); }
  static void TearDownTestSuite() { delete families_; }

  // Every cmo series of a PromQL expression is served (a histogram's _bucket/_sum/_count by
  // its family).
  static void ExpectServed(const std::string& expr) {
    const std::set<std::string>& families = *families_;
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
      EXPECT_TRUE(families.count(name)) << name << " is not served by cmo serve";
    }
  }

  static std::set<std::string>* families_;
};
std::set<std::string>* DeployTest::families_ = nullptr;

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
      EXPECT_TRUE(fs::exists(fs::path(CMO_SOURCE_DIR) / runbook)) << runbook;
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

}  // namespace
}  // namespace cmo
