// The client library against real stores in a state dir, with the replica fed by hand so each
// test decides how far it lags, and a fake clock so waiting is deterministic.
#include "shadow/client.h"

#include <map>

#include "flags/override_store.h"
#include "flags/tier_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shadow/session_token.h"
#include "tests/shadow/client_harness.h"
#include "tests/status_matchers.h"

namespace cmo::shadow {
namespace {

using ::cmo::testing::IsOk;
using ::cmo::testing::IsOkAndHolds;
using ::cmo::testing::StatusIs;
using flags::Path;
using flags::Stage;
using ::testing::HasSubstr;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.SetOp("comment.read", "comments", "read_your_writes", Stage::kEventual);
    h_.SetOp("comment.post", "comments", "read_your_writes", Stage::kStrong);
    h_.SetOp("like.count", "likes", "eventual", Stage::kEventual);
    h_.SetOp("feed.read", "comments", "bounded_staleness(2s)", Stage::kEventual);
    h_.SetOp("payment.read", "payments", "strong", Stage::kStrong);
    h_.SetOp("like.write", "likes", "eventual", Stage::kStrong);
  }

  std::unique_ptr<Client> Open(ClientConfig config) {
    auto c = Client::Open(std::move(config), clock_);
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *std::move(c) : nullptr;
  }
  std::unique_ptr<Client> Open() { return Open(h_.Config()); }

  OpWindow WindowOf(Client& c, const std::string& op) {
    for (OpWindow& w : c.CutTelemetryForTest().ops) {
      if (w.op == op) return w;
    }
    OpWindow none;
    none.op = op;
    return none;
  }

  ::cmo::testing::FakeClock clock_;
  ::cmo::testing::ClientHarness h_{clock_};
};

TEST_F(ClientTest, StrongOpsReadThePrimaryAndEventualOpsTheReplicaAsItIs) {
  auto c = Open();
  auto w = c->Write("comment.post", "u1", "c-1", "hello");
  ASSERT_THAT(w, IsOk());
  EXPECT_EQ(w->lsn, 1);
  auto strong = c->Read("payment.read", "u1", "c-1");  // other domain: nothing there
  ASSERT_THAT(strong, IsOk());
  EXPECT_EQ(strong->path, Path::kStrong);
  EXPECT_FALSE(strong->value.has_value());

  auto eventual = c->Read("feed.read", "u1", "c-1");
  ASSERT_THAT(eventual, IsOk());
  EXPECT_EQ(eventual->path, Path::kStrong) << "no LSN samples yet: freshness cannot be proven";
  EXPECT_TRUE(eventual->fell_back);
}

TEST_F(ClientTest, EventualModelServesTheLaggingReplica) {
  auto c = Open();
  ASSERT_THAT(c->Write("comment.post", "u1", "like-1", "1"), IsOk());
  auto w = c->Write("like.write", "u1", "post-9", "41");
  ASSERT_THAT(w, IsOk());
  auto r = c->Read("like.count", "u1", "post-9", w->token);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->path, Path::kEventual);
  EXPECT_FALSE(r->value.has_value()) << "the replica has not applied it: eventual reads say so";
  h_.ReplicateThrough(w->lsn, {"comments", "likes"});
  r = c->Read("like.count", "u1", "post-9", w->token);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->value, "41");
  EXPECT_EQ(r->lsn, w->lsn);
}

TEST_F(ClientTest, ReadYourWritesFallsBackToThePrimaryAfterTheWaitBound) {
  ClientConfig config = h_.Config();
  config.max_wait = absl::Milliseconds(30);
  auto c = Open(config);
  auto w = c->Write("comment.post", "u1", "c-1", "my comment");
  ASSERT_THAT(w, IsOk());
  const absl::Time before = clock_.Now();
  auto r = c->Read("comment.read", "u1", "c-1", w->token);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->value, "my comment") << "the session must see its own write";
  EXPECT_EQ(r->path, Path::kStrong);
  EXPECT_TRUE(r->fell_back);
  EXPECT_TRUE(r->waited);
  EXPECT_GE(clock_.Now() - before, absl::Milliseconds(30)) << "it waited for the replica first";

  // Another session (no token) is served by the lagging replica.
  auto other = c->Read("comment.read", "u2", "c-1");
  ASSERT_THAT(other, IsOk());
  EXPECT_EQ(other->path, Path::kEventual);
  EXPECT_FALSE(other->value.has_value());

  h_.ReplicateThrough(w->lsn, {"comments"});
  r = c->Read("comment.read", "u1", "c-1", w->token);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->path, Path::kEventual);
  EXPECT_FALSE(r->fell_back);
  EXPECT_EQ(r->value, "my comment");

  OpWindow win = WindowOf(*c, "comment.read");
  EXPECT_EQ(win.fallbacks, 1);
  EXPECT_EQ(win.waits, 1);
  EXPECT_EQ(win.reads_strong, 1);
  EXPECT_EQ(win.reads_eventual, 2);
}

TEST_F(ClientTest, AConsistentPrefixReadShowsAReplyOnlyWhereItsPostIsVisible) {
  h_.SetOp("post.create", "posts", "read_your_writes", Stage::kStrong);
  h_.SetOp("reply.read", "comments", "consistent_prefix", Stage::kEventual);
  h_.SetOp("reply.peek", "comments", "eventual", Stage::kEventual);
  ClientConfig config = h_.Config();
  config.max_wait = absl::Milliseconds(30);
  auto c = Open(config);
  auto post = c->Write("post.create", "u1", "p-1", "a post");
  ASSERT_THAT(post, IsOk());
  auto reply = c->Write("comment.post", "u2", "r-1", "a reply", "", {}, post->lsn);
  ASSERT_THAT(reply, IsOk());
  // The reply reached the replica, its post did not (the posts topic lags).
  auto row = h_.primary().Get("comments", "r-1");
  ASSERT_THAT(row, IsOk());
  ASSERT_EQ((*row)->depends_on, post->lsn);
  h_.PutReplicaRow(**row);

  auto peek = c->Read("reply.peek", "u3", "r-1");
  ASSERT_THAT(peek, IsOk());
  EXPECT_EQ(peek->path, Path::kEventual);
  EXPECT_EQ(peek->value, "a reply") << "plain eventual shows the reply without its post";

  auto r = c->Read("reply.read", "u3", "r-1");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->value, "a reply");
  EXPECT_EQ(r->path, Path::kStrong) << "the replica cannot show the post: the primary serves";
  EXPECT_TRUE(r->fell_back);
  EXPECT_TRUE(r->waited);
  // The token it hands back holds the page's next read (the post) to the reply's version.
  auto token = DecodeToken(r->token);
  ASSERT_THAT(token, IsOk());
  EXPECT_EQ(token->lsn, reply->lsn);

  // Once every domain holds the post, the replica serves the reply.
  h_.ReplicateThrough(reply->lsn, {"comments", "likes", "payments", "posts"});
  r = c->Read("reply.read", "u3", "r-1");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->path, Path::kEventual);
  EXPECT_FALSE(r->fell_back);
  EXPECT_EQ(r->value, "a reply");
  OpWindow win = WindowOf(*c, "reply.read");
  EXPECT_EQ(win.fallbacks, 1);
  EXPECT_EQ(win.reads_eventual, 1);

  // A dependency the primary never committed is refused, and nothing is written.
  auto ahead = c->Write("comment.post", "u2", "r-2", "early", "", {}, reply->lsn + 5);
  EXPECT_EQ(ahead.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(h_.primary().LastLsn(), IsOkAndHolds(reply->lsn));
}

TEST_F(ClientTest, TokensCarryTheHighestLsnSeenAcrossReadsAndWrites) {
  auto c = Open();
  auto w1 = c->Write("comment.post", "u1", "c-1", "a");
  auto w2 = c->Write("comment.post", "u2", "c-2", "b");
  ASSERT_THAT(w2, IsOk());
  // u1 reads u2's newer comment from the primary: its token now demands LSN 2 (monotonic).
  h_.SetOp("comment.read", "comments", "monotonic_reads", Stage::kStrong);
  c->Tick();
  auto r = c->Read("comment.read", "u1", "c-2", w1->token);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(DecodeToken(r->token), ::cmo::testing::IsOkAndHolds(SessionToken{2}));
  h_.SetOp("comment.read", "comments", "monotonic_reads", Stage::kEventual);
  clock_.Advance(absl::Seconds(1));
  c->Tick();
  h_.ReplicateThrough(1, {"comments"});
  auto again = c->Read("comment.read", "u1", "c-2", r->token);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->value, "b") << "a replica at LSN 1 must not serve a session that saw LSN 2";
  EXPECT_TRUE(again->fell_back);
}

TEST_F(ClientTest, BoundedStalenessUsesTheReplicaOnlyWhenItHoldsEverythingOlderThanTheBound) {
  auto c = Open();
  auto w = c->Write("comment.post", "u1", "c-1", "x");
  ASSERT_THAT(w, IsOk());
  c->Tick();  // samples the primary: LSN 1 at t0
  clock_.Advance(absl::Seconds(3));
  c->Tick();  // LSN 1 at t0+3s
  auto r = c->Read("feed.read", "u1", "c-1");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->path, Path::kStrong) << "the replica misses a write older than 2 s";
  EXPECT_TRUE(r->fell_back);
  h_.ReplicateThrough(1, {"comments"});
  r = c->Read("feed.read", "u1", "c-1");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->path, Path::kEventual);
  EXPECT_EQ(r->value, "x");
  // A write newer than the bound does not force the primary.
  ASSERT_THAT(c->Write("comment.post", "u1", "c-2", "y"), IsOk());
  clock_.Advance(absl::Milliseconds(500));
  c->Tick();
  r = c->Read("feed.read", "u1", "c-1");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->path, Path::kEventual);
}

TEST_F(ClientTest, MalformedTokensAndUnknownOpsAreRefusedWithAReason) {
  auto c = Open();
  EXPECT_THAT(c->Read("comment.read", "u1", "c-1", "not-a-token"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("")));
  EXPECT_THAT(c->Read("no.such.op", "u1", "c-1"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cmo ops add")));
  EXPECT_THAT(c->Write("no.such.op", "u1", "c-1", "v"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no.such.op")));
}

TEST_F(ClientTest, FlagChangesAreAppliedAtTheNextPoll) {
  auto c = Open();
  auto r = c->Read("like.count", "u1", "k");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->path, Path::kEventual);
  h_.SetOp("like.count", "likes", "eventual", Stage::kShadow);  // a rollback by an operator
  EXPECT_EQ(c->Read("like.count", "u1", "k")->path, Path::kEventual) << "not polled yet";
  c->Tick();
  EXPECT_EQ(c->Read("like.count", "u1", "k")->path, Path::kStrong);
  EXPECT_TRUE(c->stats().control_plane_reachable);

  EXPECT_EQ(c->stats().snapshot_revision, h_.flags().Revision().value());
}

// A support override reaches the client with the next snapshot like any flag change: that
// subject reads strong, everyone else as before; the window counts the strong read.
TEST_F(ClientTest, ASupportOverrideSendsOneSubjectStrongAtTheNextPoll) {
  auto c = Open();
  ASSERT_EQ(c->Read("like.count", "u1", "k")->path, Path::kEventual);
  flags::Override o;
  o.subject = "u1";
  o.domain = "likes";
  o.expires = clock_.Now() + absl::Hours(2);
  ASSERT_THAT(flags::AddOverride(h_.flags(), o, {"support-1", "ticket 8812", "override", false}),
              IsOk());
  c->Tick();
  EXPECT_EQ(c->Read("like.count", "u1", "k")->path, Path::kStrong);
  EXPECT_EQ(c->Read("like.count", "u2", "k")->path, Path::kEventual);
  EXPECT_EQ(c->Read("comment.read", "u1", "k")->path, Path::kEventual) << "other domain";
}

// A subject in a tier of like.count reads with the tier's model (bounded staleness) while
// everyone else reads the lagging replica as it is; a rule matches on the request's context.
// Writes are counted per subject only while a top_k tier exists, and reported in telemetry.
TEST_F(ClientTest, APriorityTiersMembersWritesAreMarkedForThePriorityChannel) {
  flags::Tier t;
  t.name = "super_users";
  t.target = {flags::Model::kBoundedStaleness, absl::Seconds(1)};
  t.ops = {"like.write"};
  t.subjects = {"celebrity-1"};
  t.priority = true;
  ASSERT_THAT(flags::ReplaceTiers(h_.flags(), "social", {t}, {"t", "r", "plan.tiers", false}),
              IsOk());
  auto c = Open();
  // At stage strong too: replication speed is not a routing decision.
  ASSERT_THAT(c->Write("like.write", "celebrity-1", "post-1", "1"), IsOk());
  ASSERT_THAT(c->Write("like.write", "user-7", "post-1", "2"), IsOk());
  ASSERT_THAT(c->Write("comment.post", "celebrity-1", "c-1", "x"), IsOk());  // not the tier's op
  auto outbox = h_.primary().ReadOutbox(0, 10);
  ASSERT_THAT(outbox, IsOk());
  ASSERT_EQ(outbox->size(), 3u);
  EXPECT_TRUE((*outbox)[0].priority);
  EXPECT_FALSE((*outbox)[1].priority);
  EXPECT_FALSE((*outbox)[2].priority);
}

TEST_F(ClientTest, ATierSubjectReadsWithTheTiersModelAndHeavyWritersAreReported) {
  flags::Tier t;
  t.name = "super_users";
  t.target = {flags::Model::kBoundedStaleness, absl::Seconds(1)};
  t.ops = {"like.count"};
  t.subjects = {"celebrity-1"};
  t.when = {"followers >= 100000"};
  auto c = Open();
  ASSERT_THAT(c->Write("like.write", "celebrity-1", "post-1", "1"), IsOk());
  EXPECT_TRUE(c->CutTelemetryForTest().top_writers.empty()) << "no top_k tier: nothing counted";
  ASSERT_THAT(flags::ReplaceTiers(h_.flags(), "social", {t}, {"t", "r", "plan.tiers", false}),
              IsOk());
  c->Tick();  // the new snapshot; samples the primary (LSN 1)
  clock_.Advance(absl::Seconds(2));
  c->Tick();
  // The replica has applied nothing: older than 1 s is missing.
  auto member = c->Read("like.count", "celebrity-1", "post-1");
  ASSERT_THAT(member, IsOk());
  EXPECT_EQ(member->path, Path::kStrong);
  EXPECT_TRUE(member->fell_back);
  EXPECT_EQ(member->value, "1");
  const std::vector<flags::Attribute> fan = {{"followers", "250000"}};
  auto by_rule = c->Read("like.count", "user-7", "post-1", "", fan);
  EXPECT_TRUE(by_rule->fell_back);
  auto plain = c->Read("like.count", "user-7", "post-1");
  EXPECT_EQ(plain->path, Path::kEventual);
  EXPECT_FALSE(plain->value.has_value()) << "everyone else reads the replica as it is";
  h_.ReplicateThrough(1, {"likes"});
  member = c->Read("like.count", "celebrity-1", "post-1");
  EXPECT_EQ(member->path, Path::kEventual);
  EXPECT_EQ(member->value, "1");

  t.top_k = 5;
  ASSERT_THAT(flags::ReplaceTiers(h_.flags(), "social", {t}, {"t", "r", "plan.tiers", false}),
              IsOk());
  clock_.Advance(absl::Seconds(1));
  c->Tick();
  c->CutTelemetryForTest();
  for (int i = 0; i < 3; ++i) ASSERT_THAT(c->Write("like.write", "heavy", "k", "v"), IsOk());
  ASSERT_THAT(c->Write("like.write", "light", "k", "v"), IsOk());
  TelemetryWindow w = c->CutTelemetryForTest();
  ASSERT_EQ(w.top_writers.size(), 2u);
  EXPECT_EQ(w.top_writers[0], (SubjectWrites{"heavy", 3}));
  EXPECT_EQ(w.top_writers[1], (SubjectWrites{"light", 1}));
  EXPECT_TRUE(c->CutTelemetryForTest().top_writers.empty()) << "counted per window";
  auto round = DecodeTelemetry(EncodeTelemetry(w));
  ASSERT_THAT(round, IsOk());
  EXPECT_EQ(*round, w);
}

// A write whose context its op's amplification guard judges viral makes its item read strong
// for the guard's window (here, on this client; other clients hear it on cmo.amplified, see
// tests/e2e/tiers_test.cc); other items and other writes change nothing; telemetry counts both.
TEST_F(ClientTest, AViralWriteReadsStrongForTheGuardsWindow) {
  h_.SetOp("like.write", "likes", "eventual", Stage::kEventual);
  ASSERT_THAT(
      flags::ReplaceAmplifiers(h_.flags(), "social",
                               {{"social", "like.write", "reach > 100000", absl::Seconds(30)}},
                               {"t", "r", "plan.amplify", false}),
      IsOk());
  auto c = Open();
  const std::vector<flags::Attribute> viral = {{"reach", "250000"}};
  ASSERT_THAT(c->Write("like.write", "celebrity-1", "post-1", "1", "", viral), IsOk());
  ASSERT_THAT(c->Write("like.write", "user-7", "post-2", "1", "", {{{"reach", "40"}}}), IsOk());
  EXPECT_EQ(c->stats().hot_items, 1);
  auto hot = c->Read("like.count", "user-9", "post-1");
  ASSERT_THAT(hot, IsOk());
  EXPECT_EQ(hot->path, Path::kStrong);
  EXPECT_EQ(hot->value, "1") << "the replica has nothing yet; the primary has it";
  EXPECT_EQ(c->Read("like.count", "user-9", "post-2")->path, Path::kEventual);
  const TelemetryWindow w = c->CutTelemetryForTest();
  auto round = DecodeTelemetry(EncodeTelemetry(w));
  ASSERT_THAT(round, IsOk());
  EXPECT_EQ(*round, w);
  std::map<std::string, OpWindow> by_op;
  for (const OpWindow& o : w.ops) by_op[o.op] = o;
  EXPECT_EQ(by_op["like.write"].amplified_writes, 1);
  EXPECT_EQ(by_op["like.count"].amplified_reads, 1);
  clock_.Advance(absl::Seconds(31));
  c->Tick();
  EXPECT_EQ(c->stats().hot_items, 0);
  EXPECT_EQ(c->Read("like.count", "user-9", "post-1")->path, Path::kEventual);
  EXPECT_EQ(WindowOf(*c, "like.count").amplified_reads, 0);
}

// Delegates to the control database until told the control plane is gone.
class SwitchableFlagSource final : public FlagSource {
 public:
  SwitchableFlagSource(std::string path, const base::Clock& clock) : db_(std::move(path), clock) {}
  absl::StatusOr<std::shared_ptr<const flags::Snapshot>> Poll(int64_t revision) override {
    if (down) return absl::UnavailableError("control plane unreachable");
    return db_.Poll(revision);
  }
  bool down = false;

 private:
  ControlDbFlagSource db_;
};

TEST_F(ClientTest, WhenTheControlPlaneIsUnreachableTheLastGoodSnapshotKeepsRouting) {
  ClientConfig config = h_.Config();
  auto source = std::make_shared<SwitchableFlagSource>(ControlDbPath(h_.state_dir()), clock_);
  config.flag_source = source;
  auto c = Open(config);
  EXPECT_EQ(c->Read("like.count", "u1", "k")->path, Path::kEventual);
  source->down = true;
  h_.SetOp("like.count", "likes", "eventual", Stage::kShadow);  // not seen: plane is down
  clock_.Advance(absl::Seconds(1));
  c->Tick();
  EXPECT_FALSE(c->stats().control_plane_reachable);
  EXPECT_EQ(c->stats().flag_refresh_errors, 1);
  EXPECT_EQ(c->Read("like.count", "u1", "k")->path, Path::kEventual);
  EXPECT_FALSE(c->CutTelemetryForTest().control_plane_reachable);
  source->down = false;
  clock_.Advance(absl::Seconds(1));
  c->Tick();
  EXPECT_TRUE(c->stats().control_plane_reachable);
  EXPECT_EQ(c->Read("like.count", "u1", "k")->path, Path::kStrong);
}

TEST_F(ClientTest, CriticalOpsStayStrongWhateverTheStageField) {
  flags::Flag f;
  f.op = "payment.transfer";
  f.domain = "payments";
  f.op_class = flags::OpClass::kCritical;
  ASSERT_THAT(h_.flags().Add(f, {"t", "t", "add", false}), IsOk());
  auto c = Open();
  for (int u = 0; u < 200; ++u) {
    auto r = c->Read("payment.transfer", "user-" + std::to_string(u), "acct");
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->path, Path::kStrong);
  }
}

}  // namespace
}  // namespace cmo::shadow
