#include "shadow/change_event.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace cmo::shadow {
namespace {

using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ChangeEvent, RoundTripsBinaryValuesAndTombstones) {
  store::OutboxEntry e;
  e.row = {"comments", "c-1", std::string("\0\xff bytes", 8),
           42,         false, absl::FromUnixMillis(1'790'000'000'123)};
  e.op = "comment.create";
  e.subject = "user-7";
  auto d = DecodeEvent(EncodeChange(e));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->heartbeat);
  EXPECT_EQ(d->row, e.row);
  EXPECT_EQ(d->op, "comment.create");
  EXPECT_EQ(d->subject, "user-7");
  e.row.tombstone = true;
  e.row.value.clear();
  EXPECT_TRUE(DecodeEvent(EncodeChange(e))->row.tombstone);
}

TEST(ChangeEvent, ReadableByThirdParties) {
  store::OutboxEntry e;
  e.row = {"likes", "k", "v", 7, false, absl::FromUnixMillis(5)};
  e.op = "post.like";
  EXPECT_EQ(EncodeChange(e),
            R"({"commit_ms":5,"domain":"likes","key":"k","lsn":7,"op":"post.like",)"
            R"("subject":"","tombstone":false,"type":"change","v":1,"value_b64":"dg=="})");
  EXPECT_EQ(EncodeHeartbeat(9, absl::FromUnixMillis(10)),
            R"({"lsn":9,"sent_ms":10,"type":"heartbeat","v":1})");
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
