// The PostgreSQL benches run end to end on a throwaway server and report what
// docs/BENCHMARKS.md quotes; their own checks (LSNs moved by exactly the acknowledged writes;
// every corrupted key found and healed) hold. The figures themselves come from long runs.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/cmo_cli.h"
#include "tests/fakes/pg_server.h"

namespace cmo {
namespace {

TEST(PgBenchSmoke, WritersReportEveryProcessCountAndLoseNothing) {
  auto server = testing::PgServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ::cmo::testing::CmoCli cli;
  nlohmann::json r = cli.Json({"bench", "writers", "--primary", (*server)->Uri(), "--processes",
                               "1,3", "--seconds", "1", "--batch", "5"});
  ASSERT_TRUE(r.is_object()) << r;
  ASSERT_EQ(r["steps"].size(), 2u);
  EXPECT_EQ(r["steps"][1]["processes"], 3);
  for (const nlohmann::json& step : r["steps"]) {
    EXPECT_GT(step["writes_per_s"].get<double>(), 0);
    EXPECT_EQ(step["writes_per_s"].get<double>(), 5 * step["commits_per_s"].get<double>());
    EXPECT_GE(step["commit_p99_ms"].get<double>(), step["commit_p50_ms"].get<double>());
  }
}

TEST(PgBenchSmoke, ReconcileFindsAndHealsEveryCorruptedKeyAndReusesKeptData) {
  auto server = testing::PgServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->CreateDatabase("replica").ok());
  ::cmo::testing::CmoCli cli;
  const std::vector<std::string> args = {"bench",          "reconcile",   "--keys",
                                         "5000",           "--divergent", "40",
                                         "--digest-bits",  "8",           "--primary",
                                         (*server)->Uri(), "--replica",   (*server)->Uri("replica"),
                                         "--keep-data"};
  for (bool reused : {false, true}) {
    nlohmann::json r = cli.Json(args);
    ASSERT_TRUE(r.is_object()) << r;
    EXPECT_EQ(r["reused_data"], reused);
    EXPECT_EQ(r["found"], r["divergent"]);
    EXPECT_EQ(r["healed"], r["divergent"]);
    EXPECT_LT(r["rows_scanned"].get<int64_t>(), 2 * 5000) << "only differing buckets are read";
  }
}

}  // namespace
}  // namespace cmo
