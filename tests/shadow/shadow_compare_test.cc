// Shadow comparison through the client: sampled reads are compared off the hot path, version
// differences are re-checked after the staleness window, and every class is counted and
// reported. The comparers and classification rules themselves are tested first.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shadow/client.h"
#include "shadow/comparator.h"
#include "shadow/mismatch.h"
#include "tests/shadow/client_harness.h"
#include "tests/status_matchers.h"

namespace cmo::shadow {
namespace {

using ::cmo::testing::IsOk;
using ::cmo::testing::StatusIs;
using flags::Path;
using flags::Stage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

store::Row Live(int64_t lsn, std::string value) {
  return {"d", "k", std::move(value), lsn, false, absl::UnixEpoch()};
}
store::Row Dead(int64_t lsn) { return {"d", "k", "", lsn, true, absl::UnixEpoch()}; }

TEST(ComparatorTest, ExactJsonIgnoringFieldsAndSets) {
  const Comparator exact = *ParseComparator("exact");
  EXPECT_TRUE(exact.Equal("a", "a"));
  EXPECT_FALSE(exact.Equal(R"({"a":1,"b":2})", R"({"b":2,"a":1})"));
  const Comparator json = *ParseComparator("json:ignore=updated_at,meta.etag");
  EXPECT_TRUE(json.Equal(R"({"a":1,"b":2})", R"({"b":2, "a":1})"));
  EXPECT_TRUE(json.Equal(R"({"a":1,"updated_at":5,"meta":{"etag":"x","v":1}})",
                         R"({"a":1,"updated_at":9,"meta":{"etag":"y","v":1}})"));
  EXPECT_FALSE(json.Equal(R"({"a":1,"meta":{"v":1}})", R"({"a":1,"meta":{"v":2}})"));
  EXPECT_FALSE(json.Equal("not json", R"({"a":1})"));
  const Comparator set = *ParseComparator("set");
  EXPECT_TRUE(set.Equal(R"(["u1","u2","u2"])", R"(["u2","u1"])"));
  EXPECT_FALSE(set.Equal(R"(["u1","u2"])", R"(["u1"])"));
  EXPECT_FALSE(set.Equal(R"({"a":1})", R"({"a":1} )")) << "not arrays: byte comparison";
  EXPECT_THAT(ParseComparator("jsn"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("use exact, set, json")));
  EXPECT_THAT(ParseComparator("json:ignore=a,,b"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty field name")));
}

TEST(MismatchTest, FirstLookAndSettledClasses) {
  const Comparator c;
  EXPECT_EQ(Compare(c, Live(3, "v"), Live(3, "v")), FirstLook::kMatch);
  EXPECT_EQ(Compare(c, std::nullopt, std::nullopt), FirstLook::kMatch);
  EXPECT_EQ(Compare(c, Dead(4), std::nullopt), FirstLook::kMatch) << "no value on either side";
  EXPECT_EQ(Compare(c, Live(3, "v"), Live(3, "w")), FirstLook::kDivergence);
  EXPECT_EQ(Compare(c, Live(5, "v"), Live(3, "w")), FirstLook::kRecheck);
  EXPECT_EQ(Compare(c, Live(5, "v"), Live(3, "v")), FirstLook::kMatch) << "same answer";

  EXPECT_EQ(Settle(c, 5, Live(5, "v"), Live(5, "v")), MismatchClass::kLag);
  EXPECT_EQ(Settle(c, 5, Live(9, "z"), Live(6, "y")), MismatchClass::kLag) << "caught up past 5";
  EXPECT_EQ(Settle(c, 5, Live(5, "v"), std::nullopt), MismatchClass::kMissing);
  EXPECT_EQ(Settle(c, 5, Live(5, "v"), Dead(2)), MismatchClass::kMissing);
  EXPECT_EQ(Settle(c, 5, Dead(5), Live(2, "old")), MismatchClass::kResurrected);
  EXPECT_EQ(Settle(c, 5, Live(5, "v"), Live(2, "old")), MismatchClass::kDivergence);
  EXPECT_EQ(Settle(c, 5, Live(5, "v"), Live(5, "w")), MismatchClass::kDivergence);
  EXPECT_EQ(Settle(c, 5, Live(5, "v"), Live(8, "w")), MismatchClass::kDivergence)
      << "a replica version the primary never had";
}

class ShadowCompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.SetOp("comment.post", "comments", "eventual", Stage::kStrong);
    // Shadow stage, every read sampled: the app is served by the primary.
    h_.SetOp("comment.read", "comments", "eventual", Stage::kShadow, 0, 10000);
    auto c = Client::Open(h_.Config(), clock_);
    ASSERT_THAT(c, IsOk());
    client_ = *std::move(c);
  }

  int64_t Post(const std::string& key, const std::string& value) {
    auto w = client_->Write("comment.post", "u1", key, value);
    EXPECT_THAT(w, IsOk());
    return w.ok() ? w->lsn : 0;
  }

  void ReadSampled(const std::string& key) {
    auto r = client_->Read("comment.read", "u1", key);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->path, Path::kStrong);
  }

  OpWindow Window() {
    for (OpWindow& w : client_->CutTelemetryForTest().ops) {
      if (w.op == "comment.read") return w;
    }
    return {};
  }

  int64_t Count(const OpWindow& w, MismatchClass c) { return w.classes[static_cast<size_t>(c)]; }

  ::cmo::testing::FakeClock clock_;
  ::cmo::testing::ClientHarness h_{clock_};
  std::unique_ptr<Client> client_;
};

TEST_F(ShadowCompareTest, ReplicaInStepIsAMatch) {
  const int64_t lsn = Post("c-1", "hi");
  h_.ReplicateThrough(lsn, {"comments"});
  ReadSampled("c-1");
  EXPECT_EQ(client_->RunShadowForTest(10), 1);
  OpWindow w = Window();
  EXPECT_EQ(w.samples, 1);
  EXPECT_EQ(Count(w, MismatchClass::kMatch), 1);
  EXPECT_TRUE(w.mismatches.empty());
}

TEST_F(ShadowCompareTest, ALateReplicaIsLagOnlyIfItConvergesWithinTheWindow) {
  const int64_t lsn = Post("c-1", "hi");
  ReadSampled("c-1");
  EXPECT_EQ(client_->RunShadowForTest(10), 1);  // differs: re-check scheduled
  EXPECT_EQ(client_->RunShadowForTest(10), 0) << "not due before the staleness window";
  h_.ReplicateThrough(lsn, {"comments"});
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(client_->RunShadowForTest(10), 1);
  OpWindow w = Window();
  EXPECT_EQ(Count(w, MismatchClass::kLag), 1);
  ASSERT_EQ(w.mismatches.size(), 1u);
  EXPECT_EQ(w.mismatches[0].mismatch_class, MismatchClass::kLag);
  EXPECT_EQ(w.mismatches[0].key, "c-1");
  EXPECT_EQ(w.mismatches[0].region, ::cmo::testing::kRegion);
  EXPECT_EQ(w.mismatches[0].primary_lsn, lsn);
  EXPECT_EQ(w.mismatches[0].replica_lsn, lsn);
}

TEST_F(ShadowCompareTest, NeverArrivingIsMissingAndADeleteNotAppliedIsResurrected) {
  const int64_t old = Post("c-2", "bye");
  h_.ReplicateThrough(old, {"comments"});
  auto del = client_->Delete("comment.post", "u1", "c-2");
  ASSERT_THAT(del, IsOk());
  Post("c-1", "hi");  // never replicated from here on
  ReadSampled("c-1");
  ReadSampled("c-2");
  EXPECT_EQ(client_->RunShadowForTest(10), 2);
  clock_.Advance(absl::Seconds(6));
  EXPECT_EQ(client_->RunShadowForTest(10), 2);
  OpWindow w = Window();
  EXPECT_EQ(Count(w, MismatchClass::kMissing), 1);
  EXPECT_EQ(Count(w, MismatchClass::kResurrected), 1);
  ASSERT_EQ(w.mismatches.size(), 2u);
  EXPECT_EQ(w.mismatches[0].key, "c-1");
  EXPECT_EQ(w.mismatches[1].key, "c-2");
  EXPECT_EQ(w.mismatches[1].replica_lsn, old);
}

TEST_F(ShadowCompareTest, AReplicaVersionThePrimaryNeverHadIsADivergence) {
  const int64_t lsn = Post("c-1", "hi");
  h_.ReplicateThrough(lsn, {"comments"});
  h_.PutReplicaRow({"comments", "c-1", "stray", lsn + 100, false, absl::UnixEpoch()});
  ReadSampled("c-1");
  client_->RunShadowForTest(10);
  // Versions differ: judged only after the window, when the primary still lacks it.
  EXPECT_EQ(Window().samples, 0);
  clock_.Advance(absl::Seconds(5));
  client_->RunShadowForTest(10);
  OpWindow w = Window();
  EXPECT_EQ(Count(w, MismatchClass::kDivergence), 1);
}

TEST_F(ShadowCompareTest, AFullQueueDropsSamplesAndCountsThemWithoutBlocking) {
  ClientConfig config = h_.Config();
  config.shadow_queue = 3;
  auto small = Client::Open(config, clock_);
  ASSERT_THAT(small, IsOk());
  for (int i = 0; i < 10; ++i) ASSERT_THAT((*small)->Read("comment.read", "u1", "k"), IsOk());
  OpWindow w;
  for (OpWindow& o : (*small)->CutTelemetryForTest().ops) {
    if (o.op == "comment.read") w = o;
  }
  EXPECT_EQ(w.reads_strong, 10);
  EXPECT_EQ(w.dropped_samples, 7);
  EXPECT_EQ((*small)->RunShadowForTest(100), 3);
}

TEST_F(ShadowCompareTest, DomainComparatorsApply) {
  ClientConfig config = h_.Config();
  config.comparators = {{"comments", "json:ignore=seen_at"}};
  auto c = Client::Open(config, clock_);
  ASSERT_THAT(c, IsOk());
  const int64_t lsn = Post("c-1", R"({"text":"hi","seen_at":1})");
  h_.ReplicateThrough(lsn, {"comments"});
  h_.PutReplicaRow(
      {"comments", "c-1", R"({"seen_at":2,"text":"hi"})", lsn + 1, false, absl::UnixEpoch()});
  ASSERT_THAT((*c)->Read("comment.read", "u1", "c-1"), IsOk());
  (*c)->RunShadowForTest(10);
  OpWindow w = (*c)->CutTelemetryForTest().ops.at(0);
  EXPECT_EQ(Count(w, MismatchClass::kMatch), 1);

  config.comparators = {{"comments", "nope"}};
  EXPECT_THAT(Client::Open(config, clock_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("domain \"comments\"")));
}

TEST(TelemetryTest, ManyOpsOnOneThreadAndTwoRecordersKeepTheirOwnCounters) {
  TelemetryRecorder a, b;
  // More ops than the per-thread cache holds, interleaved: every call must land on its op.
  for (int round = 0; round < 3; ++round) {
    for (int op = 0; op < 12; ++op) {
      const std::string name = "op." + std::to_string(op);
      for (int i = 0; i <= op; ++i) a.CountRead(a.For(name), Path::kEventual);
      b.CountWrite(b.For(name));
    }
  }
  EXPECT_EQ(a.For("op.3"), a.For("op.3"));
  EXPECT_NE(a.For("op.3"), b.For("op.3"));
  const TelemetryWindow wa = a.Cut(absl::FromUnixMillis(0), absl::FromUnixMillis(250));
  const TelemetryWindow wb = b.Cut(absl::FromUnixMillis(0), absl::FromUnixMillis(250));
  ASSERT_EQ(wa.ops.size(), 12u);
  ASSERT_EQ(wb.ops.size(), 12u);
  for (const OpWindow& o : wa.ops) {
    EXPECT_EQ(o.reads_eventual, 3 * (std::stoi(o.op.substr(3)) + 1)) << o.op;
    EXPECT_EQ(o.writes, 0) << o.op;
  }
  for (const OpWindow& o : wb.ops) EXPECT_EQ(o.writes, 3) << o.op;
}

TEST(TelemetryTest, WindowsRoundTripAndHistogramQuantiles) {
  TelemetryRecorder rec;
  auto* c = rec.For("comment.read");
  rec.CountRead(c, Path::kEventual);
  rec.CountRead(c, Path::kEventual);
  rec.CountRead(c, Path::kStrong);
  rec.RecordLatency(c, Path::kEventual, absl::Microseconds(3));
  rec.RecordLatency(c, Path::kEventual, absl::Microseconds(900));
  rec.RecordLatency(c, Path::kStrong, absl::Microseconds(40));
  rec.CountFallback(c);
  rec.CountSample(c, MismatchClass::kLag);
  rec.RecordMismatch({"comment.read", "u1", "comments", "c-1", "eu-west", MismatchClass::kLag, 7, 7,
                      absl::FromUnixMillis(1234)});
  rec.For("idle.op");
  TelemetryWindow w = rec.Cut(absl::FromUnixMillis(1000), absl::FromUnixMillis(1250));
  w.client_id = "host-1";
  w.region = "eu-west";
  ASSERT_EQ(w.ops.size(), 1u) << "ops with no activity are left out";
  EXPECT_EQ(w.ops[0].reads_eventual, 2);
  EXPECT_EQ(HistogramQuantileUs(w.ops[0].latency_eventual, 0.5), 4);
  EXPECT_EQ(HistogramQuantileUs(w.ops[0].latency_eventual, 0.99), 1024);
  auto decoded = DecodeTelemetry(EncodeTelemetry(w));
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(*decoded, w);
  EXPECT_TRUE(rec.Cut(absl::FromUnixMillis(1250), absl::FromUnixMillis(1500)).ops.empty())
      << "a cut resets the counts";
  EXPECT_THAT(DecodeTelemetry(R"({"v":2})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version 2")));
  EXPECT_THAT(DecodeTelemetry("[]"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("")));
  // Found by telemetry_fuzz: a number that is not an int64 was cast (undefined behaviour).
  EXPECT_THAT(DecodeTelemetry(R"({"v":888888888888888888888800250,"ops":[]})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("integer")));
  EXPECT_THAT(DecodeTelemetry(R"({"v":1.5,"ops":[]})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("integer")));
}

}  // namespace
}  // namespace cmo::shadow
