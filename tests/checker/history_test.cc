// The checker must catch every kind of violation on hand-made histories, and pass clean ones.
#include "tests/checker/history.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cmo::checker {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

HistoryOp W(int p, std::string k, int64_t lsn) { return {p, "ok", "write", k, "v", lsn, 0}; }
HistoryOp R(int p, std::string k, int64_t lsn) { return {p, "ok", "read", k, "v", lsn, 0}; }

const Guarantees kAll = {true, true, true};

TEST(HistoryChecker, CleanHistoryPasses) {
  const std::vector<HistoryOp> h = {W(1, "a", 1), R(1, "a", 1), W(2, "b", 2), R(1, "b", 0),
                                    R(2, "b", 2), R(2, "a", 1), W(1, "a", 3), R(1, "a", 3)};
  EXPECT_THAT(CheckHistory(h, kAll), IsEmpty());
}

TEST(HistoryChecker, CatchesReadYourWrites) {
  const std::vector<HistoryOp> h = {W(1, "k", 5), R(1, "k", 3)};
  const auto v = CheckHistory(h, {true, false, false});
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].guarantee, "read-your-writes");
  EXPECT_EQ(v[0].index, 1u);
  EXPECT_THAT(v[0].message, HasSubstr("after writing it at lsn 5"));
  // Another session's read of the same key is not bound by it.
  EXPECT_THAT(CheckHistory({W(1, "k", 5), R(2, "k", 3)}, {true, false, false}), IsEmpty());
}

TEST(HistoryChecker, CatchesNonMonotonicReads) {
  const auto v = CheckHistory({R(1, "k", 7), R(1, "k", 4)}, {false, true, false});
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].guarantee, "monotonic-reads");
  EXPECT_THAT(v[0].message, HasSubstr("after reading it at lsn 7"));
}

TEST(HistoryChecker, CatchesCausalViolationsAcrossKeys) {
  // P2 writes b@8 then a@10; P1 sees a@10, so b@8 precedes what P1 saw: reading b empty is a
  // causal violation (but not a read-your-writes or monotonic one).
  const std::vector<HistoryOp> h = {W(2, "b", 8), W(2, "a", 10), R(1, "a", 10), R(1, "b", 0)};
  EXPECT_THAT(CheckHistory(h, {true, true, false}), IsEmpty());
  const auto v = CheckHistory(h, {false, false, true});
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].guarantee, "causal");
  EXPECT_EQ(v[0].index, 3u);
  EXPECT_THAT(v[0].message, HasSubstr("version 8"));
}

TEST(HistoryChecker, CatchesAReplyBeforeItsPost) {
  // P1 posts p@4; P2 replies r@6 naming p@4. P3 sees the reply, then the post missing.
  HistoryOp reply = W(2, "r", 6);
  reply.dep_key = "p";
  reply.dep_lsn = 4;
  const std::vector<HistoryOp> h = {W(1, "p", 4), reply, R(3, "r", 6), R(3, "p", 0)};
  const Guarantees prefix = {.consistent_prefix = true};
  const auto v = CheckHistory(h, prefix);
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].guarantee, "consistent-prefix");
  EXPECT_EQ(v[0].index, 3u);
  EXPECT_THAT(v[0].message, HasSubstr("after reading r at lsn 6, which follows version 4"));
  // Seeing the post (or a newer version of it) is fine, and so is the post missing before the
  // reply was seen, or in another session.
  EXPECT_THAT(CheckHistory({W(1, "p", 4), reply, R(3, "r", 6), R(3, "p", 4)}, prefix), IsEmpty());
  EXPECT_THAT(CheckHistory({W(1, "p", 4), reply, R(3, "p", 0), R(3, "r", 6)}, prefix), IsEmpty());
  EXPECT_THAT(CheckHistory({W(1, "p", 4), reply, R(3, "r", 6), R(4, "p", 0)}, prefix), IsEmpty());
  // A read of an older version of the reply owes nothing.
  EXPECT_THAT(CheckHistory({W(1, "p", 4), reply, R(3, "r", 0), R(3, "p", 0)}, prefix), IsEmpty());
}

TEST(HistoryChecker, OnlyCompletedOperationsCount) {
  std::vector<HistoryOp> h = {W(1, "k", 5), R(1, "k", 3)};
  h[0].type = "info";  // the write's outcome is unknown: it may not have happened
  EXPECT_THAT(CheckHistory(h, kAll), IsEmpty());
}

TEST(HistoryChecker, JsonLinesRoundTripAndBadLinesAreNamed) {
  std::vector<HistoryOp> h = {W(1, "k", 5), R(1, "k", 5)};
  h[0].dep_key = "p";
  h[0].dep_lsn = 3;
  std::string text;
  for (const HistoryOp& op : h) text += ToJsonLine(op) + "\n";
  auto parsed = ParseHistory(text);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[1].lsn, 5);
  EXPECT_EQ((*parsed)[1].f, "read");
  EXPECT_EQ((*parsed)[0].dep_key, "p");
  EXPECT_EQ((*parsed)[0].dep_lsn, 3);
  EXPECT_EQ((*parsed)[1].dep_key, "");
  auto bad = ParseHistory(text + "{\"process\": 1}\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("line 3"));
}

}  // namespace
}  // namespace cmo::checker
