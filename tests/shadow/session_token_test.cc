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

// Written by the v2 encoder before its code was rewritten: tokens already in cookies.
constexpr std::pair<int64_t, const char*> kV2Tokens[] = {
    {0, "AgAAAAAAAABD4u4"},
    {1, "AgEAAAAAAAA3_9U"},
    {4711, "AmcSAAAAAAAKQWE"},
    {123456789, "AhXNWwcAAAANgro"},
    {1099511627853, "Ak0AAAAAAQAqpTM"},
    {72057594037927935, "Av________9MGxM"},
};

TEST(SessionToken, VersionTwoTokensAreByteForByteStable) {
  for (const auto& [lsn, token] : kV2Tokens) {
    EXPECT_EQ(EncodeToken({lsn}), token) << lsn;
    EXPECT_THAT(DecodeToken(token), IsOkAndHolds(SessionToken{lsn})) << token;
  }
  EXPECT_EQ(EncodeToken({4711 + (int64_t{1} << 56)}).size(), 18u);
}

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
  std::string last_bad = t;  // the last character, whose sextet the decoder pads
  last_bad.back() = '=';
  EXPECT_THAT(DecodeToken(last_bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("base64")));
  // 123456789 is "AhXNWwcAAAANgro": 'o' -> 'p' sets one of the last character's two unused bits.
  EXPECT_THAT(DecodeToken("AhXNWwcAAAANgrp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("canonical")));
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
