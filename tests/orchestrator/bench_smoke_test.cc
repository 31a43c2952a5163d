// `cmo bench pipeline` runs end to end and reports every field docs/BENCHMARKS.md quotes.
// (A smoke test of the driver; the figures themselves come from long runs, not from CI.)
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/cmo_cli.h"

namespace cmo {
namespace {

TEST(BenchSmoke, PipelineReportsThroughputAndLag) {
  ::cmo::testing::CmoCli cli;
  nlohmann::json r = cli.Json({"bench", "pipeline", "--seconds", "3", "--rate", "2000",
                               "--no-limits", "--work-dir", cli.dir()});
  ASSERT_TRUE(r.is_object());
  EXPECT_GT(r["changes_per_s"].get<int64_t>(), 500);
  EXPECT_GT(r["written_per_s"].get<int64_t>(), 500);
  EXPECT_GE(r["lag_p99_ms"].get<double>(), r["lag_p50_ms"].get<double>());
  EXPECT_EQ(r["rate"], 2000);
  EXPECT_EQ(cli.Run({"bench", "pipeline", "--rate", "fast"}).exit_code, 2);
}

TEST(BenchSmoke, ReadReportsClientOverheadAndDecideCost) {
  ::cmo::testing::CmoCli cli;
  nlohmann::json r = cli.Json({"bench", "read", "--seconds", "0.4", "--rounds", "1", "--keys",
                               "2000", "--work-dir", cli.dir()});
  ASSERT_TRUE(r.is_object());
  EXPECT_GT(r["direct_ops_per_s"].get<double>(), 1000);
  EXPECT_GT(r["client_ops_per_s_0pct"].get<double>(), 1000);
  EXPECT_GT(r["client_ops_per_s_1pct"].get<double>(), 1000);
  EXPECT_GT(r["decide_token_ns"].get<double>(), 0);
  EXPECT_GT(r["samples_compared"].get<int64_t>(), 0) << "1% of reads were compared";
  EXPECT_EQ(r["rows_found"].get<int64_t>() > 0, true);
  EXPECT_EQ(cli.Run({"bench", "read", "--rounds", "0"}).exit_code, 2);
}

TEST(BenchSmoke, BreakerTripsEveryClientAndRecovers) {
  ::cmo::testing::CmoCli cli;
  nlohmann::json r = cli.Json({"bench", "breaker", "--clients", "2", "--trips", "2",
                               "--reads-per-s", "400", "--work-dir", cli.dir()});
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["trips"], 2);
  EXPECT_EQ(r["false_trips"], 0);
  EXPECT_GT(r["p50_ms"].get<double>(), 0);
  EXPECT_LE(r["p50_ms"].get<double>(), r["max_ms"].get<double>());
  // The control loop logged the shadow mismatches and repaired the corrupted keys at once.
  EXPECT_GT(r["mismatches_logged"].get<int64_t>(), 0);
  EXPECT_GT(r["targeted_repairs"].get<int64_t>(), 0);
  EXPECT_EQ(cli.Run({"bench", "breaker", "--clients", "0"}).exit_code, 2);
}

TEST(BenchSmoke, ReconcileFindsAndHealsEveryCorruptedKey) {
  ::cmo::testing::CmoCli cli;
  nlohmann::json r = cli.Json({"bench", "reconcile", "--keys", "20000", "--divergent", "50",
                               "--digest-bits", "10", "--work-dir", cli.dir()});
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["found"], r["divergent"]);
  EXPECT_EQ(r["healed"], r["divergent"]);
  EXPECT_LE(r["differing_buckets"].get<int64_t>(), 50);
  EXPECT_LT(r["rows_scanned"].get<int64_t>(), 2 * 20000) << "only differing buckets are read";
  EXPECT_GT(r["fullscan_rows_per_s"].get<double>(), 0);
  EXPECT_GT(r["naive_ms"].get<double>(), 0);
}

}  // namespace
}  // namespace cmo
