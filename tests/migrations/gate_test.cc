#include "migrations/gate.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace cmo::migrations {
namespace {

using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

class MapMetrics : public MetricSource {
 public:
  std::optional<int64_t> Latest(std::string_view, Metric m) override {
    auto it = values.find(m);
    return it == values.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
  std::map<Metric, int64_t> values;
};

TEST(Gate, ParsesEachUnit) {
  auto ratio = ParseGate("divergence_ratio < 0.1%");
  ASSERT_TRUE(ratio.ok());
  EXPECT_EQ(ratio->metric, Metric::kDivergenceRatio);
  EXPECT_EQ(ratio->comparison, Comparison::kLess);
  EXPECT_EQ(ratio->value, 1000);
  auto lag = ParseGate("replication_lag_p99<=1.5s");
  ASSERT_TRUE(lag.ok());
  EXPECT_EQ(lag->value, 1500);
  EXPECT_EQ(lag->comparison, Comparison::kLessEqual);
  auto count = ParseGate("shadow_samples >= 10000");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->value, 10000);
  EXPECT_TRUE(ParseGate("manual")->manual);
}

TEST(Gate, RejectsWrongUnitsAndOperators) {
  EXPECT_THAT(ParseGate("stale_read_ratio < 0.5"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is a ratio")));
  EXPECT_THAT(ParseGate("session_violations == 0.5"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is a count")));
  EXPECT_THAT(ParseGate("session_violations != 0"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown comparison")));
}

TEST(Gate, EvaluatesAgainstLatestValues) {
  MapMetrics m;
  Gate g = *ParseGate("stale_read_ratio < 1%");
  EXPECT_FALSE(EvaluateGate(g, "op", m, false).holds);  // no data: does not hold
  EXPECT_FALSE(EvaluateGate(g, "op", m, false).measured.has_value());
  m.values[Metric::kStaleReadRatio] = 9999;
  EXPECT_TRUE(EvaluateGate(g, "op", m, false).holds);
  m.values[Metric::kStaleReadRatio] = 10000;
  EXPECT_FALSE(EvaluateGate(g, "op", m, false).holds);
  Gate manual = *ParseGate("manual");
  EXPECT_FALSE(EvaluateGate(manual, "op", m, false).holds);
  EXPECT_TRUE(EvaluateGate(manual, "op", m, true).holds);
}

}  // namespace
}  // namespace cmo::migrations
