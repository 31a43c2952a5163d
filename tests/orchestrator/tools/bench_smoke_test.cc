// `cmo bench pipeline` runs end to end and reports every field docs/BENCHMARKS.md quotes.
// (A smoke test of the driver; the figures themselves come from long runs, not from CI.)
// Built with CMO_KAFKA_REAL (label kafka-real), the pipeline and breaker benches run on a real
// broker of their own (`--kafka`): the breaker one is the flag channel and breaker propagation
// end to end there — telemetry in, budget, breaker, snapshot on cmo.flags, every client strong.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/cmo_cli.h"
#include "tests/fakes/kafka_cluster.h"

#ifdef CMO_KAFKA_REAL
#define CMO_BENCH_SUITE BenchSmokeRealKafka
#else
#define CMO_BENCH_SUITE BenchSmoke
#endif

namespace cmo {
namespace {

// The arguments that put a bench on a real broker (started here, stopped with `cluster`).
std::vector<std::string> KafkaArgs(std::unique_ptr<::cmo::testing::KafkaCluster>& cluster) {
#ifdef CMO_KAFKA_REAL
  auto started = ::cmo::testing::KafkaCluster::Start(1);
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return {};
  cluster = *std::move(started);
  return {"--kafka", cluster->bootstrap()};
#else
  (void)cluster;
  return {};
#endif
}

std::vector<std::string> With(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(CMO_BENCH_SUITE, PipelineReportsThroughputAndLag) {
  ::cmo::testing::CmoCli cli;
  std::unique_ptr<::cmo::testing::KafkaCluster> cluster;
  nlohmann::json r = cli.Json(With({"bench", "pipeline", "--seconds", "3", "--rate", "2000",
                                    "--no-limits", "--work-dir", cli.dir()},
                                   KafkaArgs(cluster)));
  ASSERT_TRUE(r.is_object());
  EXPECT_GT(r["changes_per_s"].get<int64_t>(), 500);
  EXPECT_GT(r["written_per_s"].get<int64_t>(), 500);
  EXPECT_GE(r["lag_p99_ms"].get<double>(), r["lag_p50_ms"].get<double>());
  EXPECT_EQ(r["rate"], 2000);
  EXPECT_EQ(cli.Run({"bench", "pipeline", "--rate", "fast"}).exit_code, 2);
}

#ifndef CMO_KAFKA_REAL  // no Kafka in these two
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

#endif

TEST(CMO_BENCH_SUITE, BreakerTripsEveryClientAndRecovers) {
  ::cmo::testing::CmoCli cli;
  std::unique_ptr<::cmo::testing::KafkaCluster> cluster;
  nlohmann::json r = cli.Json(With({"bench", "breaker", "--clients", "2", "--trips", "2",
                                    "--reads-per-s", "400", "--work-dir", cli.dir()},
                                   KafkaArgs(cluster)));
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

#ifndef CMO_KAFKA_REAL
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

// Both figures are measured: the priority channel overtakes a bulk backlog, and the
// notification delay is a number.
TEST(BenchSmoke, TiersReportsPriorityLagUnderABacklogAndTheNotifyDelay) {
  ::cmo::testing::CmoCli cli;
  nlohmann::json r =
      cli.Json({"bench", "tiers", "--notifications", "20", "--regions", "2", "--bulk-writes-per-s",
                "200", "--priority-writes", "30", "--backlog", "2s", "--work-dir", cli.dir()});
  ASSERT_TRUE(r.is_object());
  EXPECT_GT(r["notify_delay_p50_ms"].get<double>(), 0);
  EXPECT_GE(r["notify_delay_p99_ms"].get<double>(), r["notify_delay_p50_ms"].get<double>());
  EXPECT_EQ(r["notifications"], 20);
  EXPECT_GT(r["bulk_writes"].get<int64_t>(), 0);
  EXPECT_GE(r["priority_lag_samples_min"].get<int64_t>(), 30);
  EXPECT_GT(r["priority_lag_p99_ms"].get<double>(), 0);
  EXPECT_GE(r["bulk_lag_p99_ms"].get<double>(), 1500) << "the backlog was held";
  EXPECT_LT(r["priority_lag_p99_ms"].get<double>(), r["bulk_lag_p99_ms"].get<double>());
  // Followers: the replies overtook their posts, which plain eventual shows and
  // consistent_prefix never does.
  EXPECT_GT(r["follower_pages_eventual"].get<int64_t>(), 0);
  EXPECT_GT(r["replies_before_posts_eventual"].get<int64_t>(), 0);
  EXPECT_GT(r["follower_pages_consistent_prefix"].get<int64_t>(), 0);
  EXPECT_EQ(r["replies_before_posts_consistent_prefix"].get<int64_t>(), 0);
  EXPECT_EQ(cli.Run({"bench", "tiers", "--backlog", "soon"}).exit_code, 2);
  EXPECT_EQ(cli.Run({"bench", "tiers", "--regions", "0"}).exit_code, 2);
}

#endif

}  // namespace
}  // namespace cmo
