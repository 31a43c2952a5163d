#include "shadow/change_event.h"

#include <rapidcheck.h>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidcheck/gtest.h"
#include "tests/status_matchers.h"

namespace cmo::shadow {
namespace {

using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ChangeEvent, RoundTripsBinaryValuesAndTombstones) {
  store::OutboxEntry e;
  e.row = {"comments", "c-1", std::string("\0\xff bytes", 8),
           42,         false, absl::FromUnixMillis(1'790'000'000'123)};
  e.row.op = "comment.create";
  e.row.subject = "user-7";
  auto d = DecodeEvent(EncodeChange(e));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->heartbeat);
  EXPECT_EQ(d->row, e.row);
  EXPECT_EQ(d->row.op, "comment.create");
  EXPECT_EQ(d->row.subject, "user-7");
  e.row.tombstone = true;
  e.row.value.clear();
  EXPECT_TRUE(DecodeEvent(EncodeChange(e))->row.tombstone);
}

TEST(ChangeEvent, ReadableByThirdParties) {
  store::OutboxEntry e;
  e.row = {"likes", "k", "v", 7, false, absl::FromUnixMillis(5)};
  e.row.op = "post.like";
  EXPECT_EQ(EncodeChange(e),
            R"({"commit_ms":5,"domain":"likes","key":"k","lsn":7,"op":"post.like",)"
            R"("subject":"","tombstone":false,"type":"change","v":1,"value_b64":"dg=="})");
  EXPECT_EQ(EncodeHeartbeat(9, absl::FromUnixMillis(10), 4),
            R"({"lsn":9,"republish":4,"sent_ms":10,"type":"heartbeat","v":1})");
}

TEST(ChangeEvent, ADependencyIsCarriedOnlyWhenSetAndMustPrecedeTheChange) {
  store::OutboxEntry e;
  e.row = {"comments", "r-1", "a reply", 9, false, absl::FromUnixMillis(5)};
  const std::string plain = EncodeChange(e);
  EXPECT_THAT(plain, ::testing::Not(HasSubstr("depends_on")));
  e.row.depends_on = 4;
  const std::string with = EncodeChange(e);
  EXPECT_THAT(with, HasSubstr(R"("commit_ms":5,"depends_on":4,"domain")"));
  EXPECT_EQ(DecodeEvent(with)->row.depends_on, 4);
  EXPECT_EQ(DecodeEventInFull(with)->row.depends_on, 4);
  EXPECT_EQ(DecodeEvent(plain)->row.depends_on, 0);
  // A dependency at or after the change itself, or not a number, is not a cmo change event.
  for (const char* bad : {R"("depends_on":9,)", R"("depends_on":-1,)", R"("depends_on":"4",)"}) {
    std::string text = plain;
    text.insert(text.find("\"domain\""), bad);
    EXPECT_THAT(DecodeEvent(text),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("depends_on")))
        << text;
    EXPECT_THAT(DecodeEventInFull(text),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("depends_on")))
        << text;
  }
}

TEST(ChangeEvent, AHeartbeatSaysWhichRepublicationItAnswers) {
  EXPECT_EQ(DecodeEvent(EncodeHeartbeat(9, absl::FromUnixMillis(10), 4))->republish, 4);
  // A relay of the version before requests existed answers none.
  EXPECT_EQ(DecodeEvent(R"({"v":1,"type":"heartbeat","lsn":3,"sent_ms":1})")->republish, 0);
}

TEST(ChangeEvent, RejectsForeignMessages) {
  EXPECT_THAT(DecodeEvent("hello"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a JSON object")));
  EXPECT_THAT(DecodeEvent(R"({"v":2,"type":"change","lsn":1})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown version")));
  EXPECT_THAT(DecodeEvent(R"({"v":1,"type":"change","lsn":1})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing domain")));
  EXPECT_TRUE(DecodeEvent(R"({"v":1,"type":"heartbeat","lsn":3})")->heartbeat);
}

// What the format's first encoder (the JSON library, keys sorted) wrote; the hand-written
// encoder must write the same bytes, escapes and replaced invalid UTF-8 included.
std::string LibraryEncoding(const store::OutboxEntry& e) {
  std::string b64;
  absl::Base64Escape(absl::string_view(e.row.value.data(), e.row.value.size()), &b64);
  return nlohmann::json{
      {"v", kChangeEventVersion}, {"type", "change"},
      {"domain", e.row.domain},   {"key", e.row.key},
      {"value_b64", b64},         {"tombstone", e.row.tombstone},
      {"lsn", e.row.lsn},         {"op", e.row.op},
      {"subject", e.row.subject}, {"commit_ms", absl::ToUnixMillis(e.row.commit_time)}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(ChangeEvent, EscapesWhatJsonNeedsEscapedAndReplacesInvalidUtf8) {
  store::OutboxEntry e;
  e.row = {"c\"q", "k\\\n\x01 caf\xc3\xa9 \xff", "v", -5, true, absl::FromUnixMillis(-1)};
  e.row.op = "op\t";
  e.row.subject = "\x7f";
  const std::string encoded = EncodeChange(e);
  EXPECT_EQ(encoded, LibraryEncoding(e));
  auto d = DecodeEvent(encoded);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->row.domain, "c\"q");
  EXPECT_EQ(d->row.key, "k\\\n\x01 caf\xc3\xa9 \xef\xbf\xbd");  // U+FFFD for the stray byte
  EXPECT_EQ(d->row.op, "op\t");
}

RC_GTEST_PROP(ChangeEvent, EncodesAsTheLibraryDidAndRoundTrips,
              (std::string domain, std::string key, std::string value, std::string op, int64_t lsn,
               bool tombstone, int32_t commit_s)) {
  store::OutboxEntry e;
  e.row = {domain, key, value, lsn, tombstone, absl::FromUnixSeconds(commit_s)};
  e.row.op = op;
  e.row.subject = key + op;
  const std::string encoded = EncodeChange(e);
  RC_ASSERT(encoded == LibraryEncoding(e));
  auto d = DecodeEvent(encoded);
  RC_ASSERT(d.ok());
  RC_ASSERT(d->row.lsn == lsn);
  RC_ASSERT(d->row.value == value);
  RC_ASSERT(d->row.commit_time == e.row.commit_time);
}

// The fast scanner either declines a text or reads it exactly as the general parser does.
void ExpectSameDecoding(const std::string& text) {
  const absl::StatusOr<ChangeEvent> fast = DecodeEvent(text);
  const absl::StatusOr<ChangeEvent> full = DecodeEventInFull(text);
  RC_ASSERT(fast.ok() == full.ok());
  if (!fast.ok()) {
    RC_ASSERT(fast.status() == full.status());
    return;
  }
  RC_ASSERT(fast->heartbeat == full->heartbeat);
  RC_ASSERT(fast->row == full->row);
  RC_ASSERT(fast->row.op == full->row.op);
  RC_ASSERT(fast->row.subject == full->row.subject);
  RC_ASSERT(fast->sent == full->sent);
  RC_ASSERT(fast->republish == full->republish);
  RC_ASSERT(fast->row.depends_on == full->row.depends_on);
}

RC_GTEST_PROP(ChangeEvent, FastDecodingAgreesWithTheGeneralParser, ()) {
  // Texts assembled from JSON's pieces and the format's names hit both the scanner's accepted
  // shapes and the ones it must decline.
  static const std::vector<std::string> kPieces = {"{",
                                                   "}",
                                                   "\"",
                                                   ":",
                                                   ",",
                                                   " ",
                                                   "\\",
                                                   "\\\"",
                                                   "\\u00e9",
                                                   "-",
                                                   "0",
                                                   "7",
                                                   "12",
                                                   ".5",
                                                   "e3",
                                                   "true",
                                                   "false",
                                                   "null",
                                                   "[",
                                                   "]",
                                                   "\xc3\xa9",
                                                   "\xff",
                                                   "\x01",
                                                   "9223372036854775808",
                                                   "123456789012345678",
                                                   "\"v\":1",
                                                   "\"v\":2",
                                                   "\"type\":\"change\"",
                                                   "\"type\":\"heartbeat\"",
                                                   "\"lsn\":",
                                                   "\"sent_ms\":",
                                                   "\"domain\":\"d\"",
                                                   "\"key\":\"k\"",
                                                   "\"value_b64\":\"dg==\"",
                                                   "\"value_b64\":\"*\"",
                                                   "\"op\":\"o\"",
                                                   "\"subject\":\"s\"",
                                                   "\"tombstone\":",
                                                   "\"commit_ms\":",
                                                   "\"depends_on\":",
                                                   "\"republish\":"};
  const auto pieces = *rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(kPieces));
  std::string text;
  for (const std::string& p : pieces) text += p;
  ExpectSameDecoding(text);
}

RC_GTEST_PROP(ChangeEvent, FastDecodingAgreesOnMutatedEvents,
              (std::string key, size_t at, char byte, bool insert)) {
  store::OutboxEntry e;
  e.row = {"likes", key, "v", 7, false, absl::FromUnixMillis(5)};
  std::string text = EncodeChange(e);
  ExpectSameDecoding(text);
  const size_t i = at % (text.size() + 1);
  if (insert) {
    text.insert(i, 1, byte);
  } else if (i < text.size()) {
    text[i] = byte;
  }
  ExpectSameDecoding(text);
}

TEST(ChangeEvent, DuplicateMembersTakeTheLastLikeTheGeneralParser) {
  const std::string text = R"({"v":1,"type":"heartbeat","lsn":3,"lsn":4})";
  EXPECT_EQ(DecodeEvent(text)->row.lsn, 4);
  EXPECT_EQ(DecodeEventInFull(text)->row.lsn, 4);
}

TEST(ChangeEvent, PartitionIsStableAndInRange) {
  EXPECT_EQ(PartitionOf("user-42", 4), PartitionOf("user-42", 4));
  for (int i = 0; i < 1000; ++i) {
    const int32_t p = PartitionOf("k" + std::to_string(i), 6);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 6);
  }
}

}  // namespace
}  // namespace cmo::shadow
