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

}  // namespace
}  // namespace cmo
