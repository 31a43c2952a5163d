#include "flags/flag_store.h"

#include "base/sql.h"
#include "flags/flag_json.h"
#include "flags/override_store.h"
#include "flags/tier_store.h"
#include "flags/transitions.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/pg_server.h"
#include "tests/fakes/temp_dir.h"
#include "tests/status_matchers.h"

namespace cmo::flags {
namespace {

using ::cmo::testing::IsOk;
using ::cmo::testing::IsOkAndHolds;
using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

// Every test runs on both databases a control state lives in: the state dir's SQLite file and
// a PostgreSQL server (a throwaway one, a database per test).
enum class Backend { kSqlite, kPostgres };

class FlagStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    std::string url = dir_.File("control.db");
    if (GetParam() == Backend::kPostgres) {
      if (server_ == nullptr) {
        auto server = ::cmo::testing::PgServer::Start();
        ASSERT_THAT(server, IsOk());
        server_ = *std::move(server);
      }
      const std::string db = "t" + std::to_string(next_db_++);
      ASSERT_THAT(server_->CreateDatabase(db), IsOk());
      url = server_->Uri(db);
    }
    auto store = FlagStore::Open(url, clock_);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }

  Flag Op(std::string op, OpClass cls = OpClass::kStandard) {
    Flag f;
    f.op = std::move(op);
    f.domain = "likes";
    f.op_class = cls;
    f.target.model = cls == OpClass::kCritical ? Model::kStrong : Model::kEventual;
    return f;
  }

  ChangeContext Ctx(std::string action) { return {"tester", "because", std::move(action), false}; }

  ::cmo::testing::TempDir dir_;
  ::cmo::testing::FakeClock clock_;
  std::unique_ptr<FlagStore> store_;
  static inline std::unique_ptr<::cmo::testing::PgServer> server_;
  static inline int next_db_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Databases, FlagStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == Backend::kSqlite ? "sqlite" : "postgres";
                         });

TEST_P(FlagStoreTest, AddDefaultsSaltToDomainAndStartsStrong) {
  Flag f = Op("post.like");
  f.stage = Stage::kRamp;  // ignored: every op starts strong
  auto change = store_->Add(f, Ctx("add"));
  ASSERT_THAT(change, IsOk());
  EXPECT_EQ(change->revision, 1);
  auto got = store_->Get("post.like");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->salt, "likes");
  EXPECT_EQ(got->stage, Stage::kStrong);
  EXPECT_EQ(got->revision, 1);
  EXPECT_THAT(store_->Add(f, Ctx("add")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already registered")));
}

TEST_P(FlagStoreTest, EveryChangeBumpsTheRevisionAndIsAudited) {
  ASSERT_THAT(store_->Add(Op("post.like"), Ctx("add")), IsOk());
  ASSERT_THAT(store_->Add(Op("feed.read"), Ctx("add")), IsOk());
  clock_.Advance(absl::Seconds(5));
  auto change = store_->Update("post.like", Ctx("advance"), [](Flag& f) { return Advance(f, {}); });
  ASSERT_THAT(change, IsOk());
  EXPECT_TRUE(change->changed);
  EXPECT_EQ(change->revision, 3);
  EXPECT_THAT(store_->Revision(), ::cmo::testing::IsOkAndHolds(3));

  auto history = store_->History(std::string_view("post.like"), 10);
  ASSERT_THAT(history, IsOk());
  ASSERT_EQ(history->size(), 2u);
  const AuditEntry& e = (*history)[0];
  EXPECT_EQ(e.revision, 3);
  EXPECT_EQ(e.action, "advance");
  EXPECT_EQ(e.actor, "tester");
  EXPECT_EQ(e.reason, "because");
  EXPECT_EQ(e.at, clock_.Now());
  EXPECT_EQ(e.before["stage"], "strong");
  EXPECT_EQ(e.after["stage"], "dual_write");
  EXPECT_TRUE((*history)[1].before.is_null());
  auto all = store_->History(std::nullopt, 10);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), 3u);
}

TEST_P(FlagStoreTest, FailedOrNoOpEditsWriteNothing) {
  ASSERT_THAT(store_->Add(Op("post.like"), Ctx("add")), IsOk());
  EXPECT_THAT(store_->Update("post.like", Ctx("ramp"), [](Flag& f) { return RampTo(f, 100); }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ramp works only")));
  auto noop = store_->Update("post.like", Ctx("touch"), [](Flag&) { return absl::OkStatus(); });
  ASSERT_THAT(noop, IsOk());
  EXPECT_FALSE(noop->changed);
  // An edit that breaks an invariant is refused by validation, whatever the edit function did.
  EXPECT_THAT(store_->Update("post.like", Ctx("hack"),
                             [](Flag& f) {
                               f.ramp_bp = 20000;
                               return absl::OkStatus();
                             }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("between 0% and 100%")));
  EXPECT_THAT(store_->Revision(), ::cmo::testing::IsOkAndHolds(1));
  auto history = store_->History(std::nullopt, 10);
  ASSERT_THAT(history, IsOk());
  EXPECT_EQ(history->size(), 1u);
}

TEST_P(FlagStoreTest, CriticalOpsAreRefusedAnyStageButStrong) {
  ASSERT_THAT(store_->Add(Op("payment.transfer", OpClass::kCritical), Ctx("add")), IsOk());
  EXPECT_THAT(store_->Update("payment.transfer", Ctx("force"),
                             [](Flag& f) {
                               f.stage = Stage::kDualWrite;
                               return absl::OkStatus();
                             }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("never leave the strong")));
  Flag weak = Op("privacy.update", OpClass::kCritical);
  weak.target.model = Model::kCausal;
  EXPECT_THAT(store_->Add(weak, Ctx("add")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must target strong")));
}

TEST_P(FlagStoreTest, DryRunReportsButWritesNothing) {
  ASSERT_THAT(store_->Add(Op("post.like"), Ctx("add")), IsOk());
  ChangeContext ctx = Ctx("advance");
  ctx.dry_run = true;
  auto change = store_->Update("post.like", ctx, [](Flag& f) { return Advance(f, {}); });
  ASSERT_THAT(change, IsOk());
  EXPECT_TRUE(change->dry_run);
  EXPECT_EQ(change->after.stage, Stage::kDualWrite);
  auto stored = store_->Get("post.like");
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(stored->stage, Stage::kStrong);
}

TEST_P(FlagStoreTest, UnknownOpNamesTheKnownOnes) {
  ASSERT_THAT(store_->Add(Op("post.like"), Ctx("add")), IsOk());
  EXPECT_THAT(store_->Get("post.lik"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("registered ops: post.like")));
}

TEST_P(FlagStoreTest, AuditLogIsAppendOnly) {
  ASSERT_THAT(store_->Add(Op("post.like"), Ctx("add")), IsOk());
  base::SqlDb& db = store_->db();
  EXPECT_THAT(db.ExecScript("UPDATE audit SET reason = 'x';"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("append-only")));
  EXPECT_THAT(db.ExecScript("DELETE FROM audit;"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("append-only")));
}

TEST_P(FlagStoreTest, SnapshotCarriesTheRevision) {
  ASSERT_THAT(store_->Add(Op("post.like"), Ctx("add")), IsOk());
  ASSERT_THAT(store_->Add(Op("feed.read"), Ctx("add")), IsOk());
  auto snap = store_->LoadSnapshot();
  ASSERT_THAT(snap, IsOk());
  EXPECT_EQ((*snap)->revision(), 2);
  EXPECT_EQ((*snap)->flags().size(), 2u);
  EXPECT_TRUE((*snap)->Route("feed.read", "u").known_op);
}

// Support overrides in the control state: added, renewed (not doubled), listed, removed, each
// audited with a new revision so the next snapshot carries it; bad input says what to give.
TEST_P(FlagStoreTest, OverridesAreAuditedRenewedAndReachTheSnapshot) {
  ASSERT_THAT(store_->Add(Op("post.like"), Ctx("add")), IsOk());
  Override o;
  o.subject = "user-7";
  o.op = "post.like";
  o.expires = clock_.Now() + absl::Hours(2);
  auto added = AddOverride(*store_, o, {"support-1", "ticket 123", "override", false});
  ASSERT_THAT(added, IsOk());
  EXPECT_GT(added->id, 0);
  EXPECT_EQ(added->actor, "support-1");
  EXPECT_EQ(*store_->Revision(), 2);
  o.expires = clock_.Now() + absl::Hours(4);
  auto renewed = AddOverride(*store_, o, {"support-2", "ticket 123, day 2", "override", false});
  ASSERT_THAT(renewed, IsOk());
  EXPECT_EQ(renewed->id, added->id);
  auto active = ActiveOverrides(store_->db(), clock_.Now());
  ASSERT_THAT(active, IsOk());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].reason, "ticket 123, day 2");
  EXPECT_EQ((*active)[0].expires, clock_.Now() + absl::Hours(4));
  auto snap = store_->LoadSnapshot();
  ASSERT_THAT(snap, IsOk());
  EXPECT_EQ((*snap)->revision(), 3);
  ASSERT_EQ((*snap)->overrides().size(), 1u);
  EXPECT_NE((*snap)->OverrideFor((*snap)->flags()[0], "user-7", clock_.Now()), nullptr);
  auto history = store_->History("post.like", 10);
  ASSERT_THAT(history, IsOk());
  ASSERT_GE(history->size(), 3u);
  EXPECT_EQ((*history)[0].action, "override");
  EXPECT_EQ((*history)[0].actor, "support-2");
  EXPECT_EQ((*history)[0].before["reason"], "ticket 123");
  // Expired: gone from the list and the snapshot without anyone removing it.
  clock_.Advance(absl::Hours(5));
  EXPECT_TRUE(ActiveOverrides(store_->db(), clock_.Now())->empty());
  EXPECT_TRUE((*store_->LoadSnapshot())->overrides().empty());
  EXPECT_THAT(RemoveOverride(*store_, added->id, Ctx("override.remove")),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  // Removed by hand; ids are never reused.
  o.expires = clock_.Now() + absl::Hours(1);
  auto again = AddOverride(*store_, o, Ctx("override"));
  ASSERT_THAT(again, IsOk());
  EXPECT_GT(again->id, added->id);
  ASSERT_THAT(RemoveOverride(*store_, again->id, Ctx("override.remove")), IsOk());
  EXPECT_TRUE(ActiveOverrides(store_->db(), clock_.Now())->empty());
  auto third = AddOverride(*store_, o, Ctx("override"));
  ASSERT_THAT(third, IsOk());
  EXPECT_GT(third->id, again->id);
}

TEST_P(FlagStoreTest, OverridesRefuseBadInputAndStopAtTheBound) {
  ASSERT_THAT(store_->Add(Op("post.like"), Ctx("add")), IsOk());
  Override o;
  o.subject = "u";
  o.expires = clock_.Now() + absl::Hours(1);
  Override bad = o;
  bad.op = "nope";
  EXPECT_THAT(AddOverride(*store_, bad, Ctx("override")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("post.like")));
  bad = o;
  bad.domain = "feeds";
  EXPECT_THAT(AddOverride(*store_, bad, Ctx("override")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("domains: likes")));
  bad.op = "post.like";
  EXPECT_THAT(AddOverride(*store_, bad, Ctx("override")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not both")));
  bad = o;
  bad.expires = clock_.Now() + absl::Hours(24 * 31);
  EXPECT_THAT(AddOverride(*store_, bad, Ctx("override")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("720h")));
  bad = o;
  bad.subject = "";
  EXPECT_THAT(AddOverride(*store_, bad, Ctx("override")),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(AddOverride(*store_, o, {"tester", "", "override", false}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  EXPECT_EQ(*store_->Revision(), 1) << "refused overrides write nothing";
  // The bound: filled in one transaction (the path under test is the check, not the filling).
  {
    base::SqlDb& db = store_->db();
    ASSERT_THAT(db.BeginWrite(), IsOk());
    for (int i = 0; i < kMaxOverrides; ++i) {
      auto* st = *db.Prepared(
          "INSERT INTO overrides (subject, op, domain, expires_ms, created_ms, actor, reason) "
          "VALUES (?1, '', '', ?2, 0, 'filler', 'filler')");
      base::SqlStatement::Scope s(*st);
      s->Bind(1, "filler-" + std::to_string(i)).Bind(2, absl::ToUnixMillis(o.expires));
      ASSERT_THAT(s->Run(), IsOk());
    }
    ASSERT_THAT(db.Commit(), IsOk());
  }
  EXPECT_THAT(AddOverride(*store_, o, Ctx("override")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cmo override remove")));
  // Renewing one that exists is no new override: still allowed at the bound.
  Override filler = o;
  filler.subject = "filler-0";
  EXPECT_THAT(AddOverride(*store_, filler, Ctx("override")), IsOk());
  auto snap = store_->LoadSnapshot();
  ASSERT_THAT(snap, IsOk());
  EXPECT_EQ((*snap)->overrides().size(), static_cast<size_t>(kMaxOverrides));
  EXPECT_LT(EncodeSnapshot(**snap, clock_.Now()).size(), 1'000'000u)
      << "a full snapshot must fit Kafka's default message size";
}

}  // namespace
}  // namespace cmo::flags

namespace cmo::flags {
namespace {

Tier StoredTier(std::string name, int32_t top_k) {
  Tier t;
  t.name = std::move(name);
  t.target = {Model::kBoundedStaleness, absl::Seconds(1)};
  t.ops = {"post.like"};
  t.subjects = {"celebrity-1"};
  t.top_k = top_k;
  return t;
}

TEST_P(FlagStoreTest, TiersAreAuditedKeepTheirHeavyWritersAndReachTheSnapshot) {
  ASSERT_THAT(store_->Add(Op("post.like"), Ctx("add")), IsOk());
  const int64_t r0 = *store_->Revision();
  ASSERT_THAT(ReplaceTiers(*store_, "social", {StoredTier("super", 3)}, Ctx("plan.tiers")),
              IsOkAndHolds(true));
  EXPECT_EQ(*store_->Revision(), r0 + 1);
  // The same tiers again: nothing written, no revision.
  EXPECT_THAT(ReplaceTiers(*store_, "social", {StoredTier("super", 3)}, Ctx("plan.tiers")),
              IsOkAndHolds(false));
  EXPECT_EQ(*store_->Revision(), r0 + 1);

  EXPECT_THAT(SetHeavyWriters(*store_, "social", "super", {"a", "b", "c", "d"}, Ctx("tier.top_k")),
              IsOkAndHolds(true));
  EXPECT_THAT(SetHeavyWriters(*store_, "social", "super", {"a", "b", "c"}, Ctx("tier.top_k")),
              IsOkAndHolds(false));  // capped at K: the same three
  EXPECT_THAT(SetHeavyWriters(*store_, "social", "nope", {"a"}, Ctx("tier.top_k")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no top_k tier")));
  auto snap = store_->LoadSnapshot();
  ASSERT_THAT(snap, IsOk());
  ASSERT_EQ((*snap)->tiers().size(), 1u);
  EXPECT_EQ((*snap)->tiers()[0].plan, "social");
  EXPECT_EQ((*snap)->tiers()[0].heavy, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ((*snap)->Route("post.like", "b").tier_via, TierVia::kTopK);

  // Re-applied with a smaller K: the heavy writers found so far stay, cut to the new K.
  ASSERT_THAT(ReplaceTiers(*store_, "social", {StoredTier("super", 2)}, Ctx("plan.tiers")),
              IsOkAndHolds(true));
  EXPECT_EQ(StoredTiers(store_->db())->at(0).heavy, (std::vector<std::string>{"a", "b"}));
  // Another plan's tiers are its own.
  ASSERT_THAT(ReplaceTiers(*store_, "other", {StoredTier("super", 0)}, Ctx("plan.tiers")),
              IsOkAndHolds(true));
  EXPECT_EQ(StoredTiers(store_->db())->size(), 2u);
  auto history = store_->History("plan:social", 10);
  ASSERT_THAT(history, IsOk());
  ASSERT_GE(history->size(), 3u);
  EXPECT_EQ((*history)[0].action, "plan.tiers");
  EXPECT_EQ((*history)[1].action, "tier.top_k");
  EXPECT_EQ((*history)[1].after["heavy"].size(), 3u);
  // A tier that breaks the bounds is refused before anything is written.
  Tier bad = StoredTier("bad", 0);
  bad.when = {"followers >>= 1"};
  EXPECT_THAT(ReplaceTiers(*store_, "social", {bad}, Ctx("plan.tiers")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rule")));
  EXPECT_EQ(StoredTiers(store_->db())->size(), 2u);
}

}  // namespace
}  // namespace cmo::flags
