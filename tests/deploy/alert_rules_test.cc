// deploy/prometheus/cmo-alerts.yaml against the real thing: every rule is well formed (alert,
// expr, severity, summary, a runbook that exists), and every cmo series its expressions use is
// a family that a running `cmo serve` (data path and webhooks on) declares in /metrics — a
// renamed metric cannot leave an alert silently matching nothing. (PromQL syntax itself is
// promtool's to check; see the note in the file's header.)
#include <httplib.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
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

TEST(AlertRules, EveryRuleIsCompleteAndEveryCmoSeriesIsServed) {
  YAML::Node doc = YAML::LoadFile(kRules.string());
  ASSERT_TRUE(doc["groups"].IsSequence());
  const std::set<std::string> families = ServedFamilies();
  ASSERT_GT(families.size(), 20u);
  ASSERT_TRUE(families.count("cmo_replication_lag_seconds")) << "data path metrics missing";
  std::set<std::string> names;
  int rules = 0;
  const std::regex series(R"(\bcmo_[a-z0-9_]+)");
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
      for (std::sregex_iterator it(expr.begin(), expr.end(), series), end; it != end; ++it) {
        std::string name = (*it)[0];
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
          const std::string s = suffix;
          if (!families.count(name) && name.size() > s.size() &&
              name.compare(name.size() - s.size(), s.size(), s) == 0 &&
              families.count(name.substr(0, name.size() - s.size()))) {
            name = name.substr(0, name.size() - s.size());
          }
        }
        EXPECT_TRUE(families.count(name)) << name << " is not served by cmo serve";
      }
    }
  }
  EXPECT_GE(rules, 10);
  // The alerts the operators' runbooks rely on are there.
  for (const char* must : {"CmoBreakerOpen", "CmoBudgetFastBurn", "CmoBudgetSlowBurn",
                           "CmoReplicaRegionSilent", "CmoOutboxGrowing", "CmoPlanStuck"}) {
    EXPECT_TRUE(names.count(must)) << must;
  }
}

}  // namespace
}  // namespace cmo
