#include "shadow/session_token.h"

#include <rapidcheck.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
// After gtest.h, which it needs.
#include <rapidcheck/gtest.h>

namespace cmo::shadow {
namespace {

using ::cmo::testing::IsOkAndHolds;
using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

// Written by the v1 encoder (18 chars) for LSN 4711, before tokens became 15 characters.
constexpr char kV1Token4711[] = "AWcSAAAAAAAAbY7dTQ";

TEST(SessionToken, EmptyStringIsTheEmptyToken) {
  EXPECT_THAT(DecodeToken(""), IsOkAndHolds(SessionToken{0}));
}

TEST(SessionToken, IsShortAndCookieSafe) {
  const std::string t = EncodeToken({4711});
  EXPECT_EQ(t.size(), 15u) << "fits a std::string without a heap allocation";
  EXPECT_EQ(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

TEST(SessionToken, HugeLsnsUseTheLongerFormat) {
  const int64_t huge = int64_t{1} << 56;
  EXPECT_EQ(EncodeToken({huge - 1}).size(), 15u);
  EXPECT_EQ(EncodeToken({huge}).size(), 18u);
  EXPECT_THAT(DecodeToken(EncodeToken({huge})), IsOkAndHolds(SessionToken{huge}));
  EXPECT_THAT(DecodeToken(EncodeToken({INT64_MAX})), IsOkAndHolds(SessionToken{INT64_MAX}));
}

TEST(SessionToken, VersionOneTokensIssuedBeforeAnUpgradeStillDecode) {
  EXPECT_THAT(DecodeToken(kV1Token4711), IsOkAndHolds(SessionToken{4711}));
  std::string flipped = kV1Token4711;
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  EXPECT_THAT(DecodeToken(flipped),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("checksum")));
}

TEST(SessionToken, RejectsDamage) {
  std::string t = EncodeToken({123456789});
  EXPECT_THAT(DecodeToken(t.substr(0, t.size() - 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("wrong length")));
  std::string flipped = t;
  flipped[3] = flipped[3] == 'A' ? 'B' : 'A';
  EXPECT_THAT(DecodeToken(flipped),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("checksum")));
  std::string bad = t;
  bad[0] = '*';
  EXPECT_THAT(DecodeToken(bad), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("base64")));
}

TEST(SessionToken, MergeKeepsTheHighestLsn) {
  EXPECT_EQ(Merge({5}, {9}).lsn, 9);
  EXPECT_EQ(Merge({9}, {5}).lsn, 9);
}

RC_GTEST_PROP(SessionToken, RoundTrips, ()) {
  const int64_t lsn = *rc::gen::inRange<int64_t>(0, INT64_MAX);
  const auto decoded = DecodeToken(EncodeToken({lsn}));
  RC_ASSERT(decoded.ok());
  RC_ASSERT(decoded->lsn == lsn);
}

}  // namespace
}  // namespace cmo::shadow
