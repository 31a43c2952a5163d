// The control state on a real PostgreSQL server (a throwaway one): every store of it works
// there, and every write — in a transaction or a single statement — is fenced by the leader
// lease: refused without it, refused to a leader whose lease another instance took over.
#include <filesystem>

#include "base/pg_sql.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/budget/breaker.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/leader_lease.h"
#include "reconcile/divergence_log.h"
#include "reconcile/reconcile_job.h"
#include "shadow/deployment_stores.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/pg_server.h"
#include "tests/fakes/temp_dir.h"
#include "tests/status_matchers.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::IsOk;
using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

class ControlStatePgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = ::cmo::testing::PgServer::Start();
    ASSERT_THAT(pg, IsOk());
    pg_ = *std::move(pg);
    ASSERT_THAT(pg_->CreateDatabase("control"), IsOk());
    std::filesystem::create_directories(dir_.File("state"));
    ASSERT_THAT(
        shadow::RecordStoreLocations(
            dir_.File("state"), {.primary = "", .replicas = {}, .control = pg_->Uri("control")}),
        IsOk());
  }
  void TearDown() override { SetProcessLease(nullptr); }

  std::unique_ptr<ControlState> Open() {
    auto state = OpenControlState(dir_.File("state"), /*create=*/false, clock_);
    EXPECT_THAT(state, IsOk());
    return state.ok() ? *std::move(state) : nullptr;
  }
  std::unique_ptr<LeaderLease> Lease(const std::string& address,
                                     const base::Clock& clock = base::SystemClock()) {
    auto lease = LeaderLease::Open(pg_->Uri("control"), address, clock,
                                   {.ttl = absl::Seconds(2), .renew_every = absl::Seconds(1)});
    EXPECT_THAT(lease, IsOk());
    return lease.ok() ? *std::move(lease) : nullptr;
  }

  flags::Flag Op(const std::string& name) {
    flags::Flag f;
    f.op = name;
    f.domain = "likes";
    f.target.model = flags::Model::kEventual;
    return f;
  }
  flags::ChangeContext Ctx() { return {"tester", "because", "add", false}; }

  ::cmo::testing::TempDir dir_;
  ::cmo::testing::FakeClock clock_;
  std::unique_ptr<::cmo::testing::PgServer> pg_;
};

TEST_F(ControlStatePgTest, WritesNeedTheLeaseAndEveryStoreWorksUnderIt) {
  auto state = Open();
  ASSERT_NE(state, nullptr);
  EXPECT_NE(dynamic_cast<base::PgSqlDb*>(&state->flags->db()), nullptr);
  // No lease table yet (no cmo serve ever ran): refused, saying what to do.
  EXPECT_THAT(state->flags->Add(Op("post.like"), Ctx()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("start cmo serve")));

  auto lease = Lease("http://a:7070");
  ASSERT_NE(lease, nullptr);
  ASSERT_THAT(lease->Poll(), IsOk());
  ASSERT_TRUE(lease->held());
  // Held by this process, but not yet its write guard's: still refused, naming the leader.
  EXPECT_THAT(state->flags->Add(Op("post.like"), Ctx()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("at http://a:7070")));
  SetProcessLease(lease.get());
  ASSERT_THAT(state->flags->Add(Op("post.like"), Ctx()), IsOk());

  // The other stores, on the same connection.
  auto breakers = BreakerStore::Open(state->flags->db());
  ASSERT_THAT(breakers, IsOk());
  BreakerRecord b;
  b.op = "post.like";
  b.state = flags::BreakerState::kOpen;
  b.reason = "divergence";
  ASSERT_THAT((*breakers)->Put(b), IsOk());
  auto got = (*breakers)->Get("post.like");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->state, flags::BreakerState::kOpen);
  auto log = reconcile::DivergenceLog::Open(state->flags->db());
  ASSERT_THAT(log, IsOk());
  reconcile::DivergenceRecord r;
  r.domain = "likes";
  r.key = "k1";
  r.subject = "user-1";
  r.region = "eu-west";
  r.detected_at = absl::FromUnixSeconds(1000);
  ASSERT_THAT((*log)->Append(r), IsOk());
  ASSERT_THAT((*log)->MarkHealed("likes", "k1", "eu-west", absl::FromUnixSeconds(1001), "repair"),
              IsOk());
  reconcile::DivergenceQuery q;
  q.subject = "user-1";
  auto found = (*log)->Find(q);
  ASSERT_THAT(found, IsOk());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].heal_action, "repair");
  auto jobs = reconcile::JobStore::Open(state->flags->db());
  ASSERT_THAT(jobs, IsOk());
  reconcile::ReconcileJob j;
  j.domain = "likes";
  j.region = "eu-west";
  j.state = "running";
  ASSERT_THAT((*jobs)->Create(j), IsOk());
  j.state = "done";
  j.rows_scanned = 42;
  ASSERT_THAT((*jobs)->SaveProgress(j), IsOk());
  ASSERT_THAT((*jobs)->Create(j), IsOk()) << "replacing a finished job";
  auto job = (*jobs)->Get("likes", "eu-west");
  ASSERT_THAT(job, IsOk());
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((**job).rows_scanned, 42);
  ASSERT_THAT(state->plans->PutSetting("max_step", "10"), IsOk());
  auto setting = state->plans->GetSetting("max_step");
  ASSERT_THAT(setting, IsOk());
  EXPECT_EQ(setting->value_or(""), "10");
}

TEST_F(ControlStatePgTest, ADeposedLeaderCannotWriteAnything) {
  // a's clock stands still: it goes on believing it leads long after the database's lease
  // lapsed (as a paused process, or one whose clock runs slow, would).
  auto a = Lease("http://a:7070", clock_);
  auto b = Lease("http://b:7070");
  ASSERT_THAT(a->Poll(), IsOk());
  ASSERT_TRUE(a->held());
  auto b_got = b->Poll();
  ASSERT_THAT(b_got, IsOk());
  EXPECT_FALSE(*b_got) << "a live lease is not taken";
  SetProcessLease(a.get());
  auto state = Open();
  ASSERT_THAT(state->flags->Add(Op("post.like"), Ctx()), IsOk());
  const int64_t epoch_a = a->token()->epoch;

  // a stops renewing; its lease lapses in the database and b takes it with a new epoch.
  absl::SleepFor(absl::Milliseconds(2100));
  ASSERT_THAT(b->Poll(), IsOk());
  ASSERT_TRUE(b->held());
  EXPECT_GT(b->token()->epoch, epoch_a);
  // a still believes it leads (it has not polled since): every kind of write is refused.
  ASSERT_TRUE(a->held());
  EXPECT_THAT(state->flags->Add(Op("feed.read"), Ctx()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("not the leader")));
  auto breakers = BreakerStore::Open(state->flags->db());
  ASSERT_THAT(breakers, IsOk());
  BreakerRecord r;
  r.op = "post.like";
  r.state = flags::BreakerState::kOpen;
  EXPECT_THAT((*breakers)->Put(r),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("not the leader")))
      << "a single statement is fenced too";
  EXPECT_THAT(state->plans->PutSetting("max_step", "100"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("not the leader")));
  // a's next poll finds the lease gone.
  auto a_now = a->Poll();
  ASSERT_THAT(a_now, IsOk());
  EXPECT_FALSE(*a_now);
  // b writes; revisions go on from where a left them.
  SetProcessLease(b.get());
  auto change = state->flags->Add(Op("feed.read"), Ctx());
  ASSERT_THAT(change, IsOk());
  EXPECT_EQ(change->revision, 2);
  EXPECT_EQ(state->plans->GetSetting("max_step")->value_or("unset"), "unset");
}

TEST_F(ControlStatePgTest, AReleasedLeaseIsTakenAtOnce) {
  auto a = Lease("http://a:7070");
  auto b = Lease("http://b:7070");
  ASSERT_THAT(a->Poll(), IsOk());
  a->Release();
  auto b_got = b->Poll();
  ASSERT_THAT(b_got, IsOk());
  EXPECT_TRUE(*b_got);
  auto info = b->Leader();
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->address, "http://b:7070");
  EXPECT_TRUE(info->live);
}

}  // namespace
}  // namespace cmo::orchestrator
