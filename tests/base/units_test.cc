#include "base/units.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace cmo::base {
namespace {

using ::cmo::testing::IsOkAndHolds;
using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParsePercentBp, AcceptsTheFormsOperatorsType) {
  EXPECT_THAT(ParsePercentBp("10"), IsOkAndHolds(1000));
  EXPECT_THAT(ParsePercentBp("10%"), IsOkAndHolds(1000));
  EXPECT_THAT(ParsePercentBp("0.5%"), IsOkAndHolds(50));
  EXPECT_THAT(ParsePercentBp("0.25"), IsOkAndHolds(25));
  EXPECT_THAT(ParsePercentBp("100%"), IsOkAndHolds(10000));
  EXPECT_THAT(ParsePercentBp("0"), IsOkAndHolds(0));
  EXPECT_THAT(ParsePercentBp(" 1.5% "), IsOkAndHolds(150));
}

TEST(ParsePercentBp, RejectsMalformedAndOutOfRange) {
  EXPECT_THAT(ParsePercentBp("150%"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("between 0% and 100%")));
  EXPECT_THAT(ParsePercentBp("100.01"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  for (const char* bad : {"-1", "ten", "", "%", "1e2", "0.005", "1.", ".5", "10%%", "1 0"}) {
    EXPECT_THAT(ParsePercentBp(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not a percentage")))
        << bad;
  }
}

TEST(FormatBp, ShortestExactForm) {
  EXPECT_EQ(FormatBp(1000), "10%");
  EXPECT_EQ(FormatBp(50), "0.5%");
  EXPECT_EQ(FormatBp(1234), "12.34%");
  EXPECT_EQ(FormatBp(5), "0.05%");
  EXPECT_EQ(FormatBp(0), "0%");
  EXPECT_EQ(FormatBp(10000), "100%");
}

TEST(ParseDuration, AcceptsUnits) {
  EXPECT_THAT(ParseDuration("500ms"), IsOkAndHolds(absl::Milliseconds(500)));
  EXPECT_THAT(ParseDuration("2s"), IsOkAndHolds(absl::Seconds(2)));
  EXPECT_THAT(ParseDuration("1.5s"), IsOkAndHolds(absl::Milliseconds(1500)));
  EXPECT_THAT(ParseDuration("10m"), IsOkAndHolds(absl::Minutes(10)));
  EXPECT_THAT(ParseDuration("1h"), IsOkAndHolds(absl::Hours(1)));
  EXPECT_THAT(ParseDuration("1d"), IsOkAndHolds(absl::Hours(24)));
}

TEST(ParseDuration, RejectsBareNumbersAndUnknownUnits) {
  for (const char* bad : {"10", "10x", "s", "-1s", "1.5ms", "ms", "1 s", "1.0001s"}) {
    EXPECT_THAT(ParseDuration(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not a duration")))
        << bad;
  }
}

TEST(FormatDuration, RoundTrips) {
  for (const char* text : {"500ms", "2s", "1500ms", "10m", "1h", "1d", "0s"}) {
    auto d = ParseDuration(text);
    ASSERT_TRUE(d.ok()) << text;
    EXPECT_EQ(base::FormatDuration(*d), text);
  }
}

}  // namespace
}  // namespace cmo::base
