// Reconciliation between a primary and a replica: every divergence class is found through the
// digests, classified, healed by the policy, and a second pass finds nothing; in-flight lag is
// left to the applier; repairs never overwrite a row that moved meanwhile.
#include "reconcile/reconciler.h"

#include "base/sqlite.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "reconcile/divergence_log.h"
#include "reconcile/full_scan.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"
#include "tests/status_matchers.h"

namespace cmo::reconcile {
namespace {

using ::cmo::testing::IsOk;
using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kDomain[] = "comments";

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = store::PrimaryStore::Open(dir_.File("primary.db"), clock_, {6, false});
    auto r = store::ReplicaStore::Open(dir_.File("replica.db"), {6, false});
    ASSERT_THAT(p, IsOk());
    ASSERT_THAT(r, IsOk());
    primary_ = *std::move(p);
    replica_ = *std::move(r);
    for (int i = 0; i < 200; ++i) Write("c-" + std::to_string(i), "v" + std::to_string(i));
    Replicate();
    clock_.Advance(absl::Minutes(5));  // everything so far is old news
  }

  int64_t Write(const std::string& key, const std::string& value, bool tombstone = false,
                const std::string& subject = "u1") {
    const store::WriteRequest w{kDomain, key, value, tombstone, "comment.post", subject};
    auto lsns = primary_->Write({&w, 1});
    EXPECT_THAT(lsns, IsOk());
    return lsns.ok() ? lsns->at(0) : 0;
  }

  void Replicate() {
    auto entries = primary_->ReadOutbox(replicated_, 1'000'000);
    ASSERT_THAT(entries, IsOk());
    std::vector<store::Row> rows;
    for (const auto& e : *entries) rows.push_back(e.row);
    ASSERT_THAT(replica_->Apply(rows, {}), IsOk());
    if (!rows.empty()) replicated_ = rows.back().lsn;
  }

  void SetReplica(const std::string& key, std::optional<store::Row> row) {
    auto current = replica_->Get(kDomain, key);
    ASSERT_THAT(current, IsOk());
    const store::ReplicaStore::Fix f{kDomain, key, current->has_value() ? (*current)->lsn : 0,
                                     std::move(row)};
    ASSERT_THAT(replica_->Repair({&f, 1}), ::cmo::testing::IsOkAndHolds(1));
  }

  ReconcileReport Run(ReconcileOptions o = {}) {
    o.domain = kDomain;
    if (o.replica_watermark == 0) o.replica_watermark = replicated_;
    auto r = Reconcile(*primary_, *replica_, o, clock_);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : ReconcileReport{};
  }

  bool InSync() { return *primary_->Digests(kDomain) == *replica_->Digests(kDomain); }

  ::cmo::testing::TempDir dir_;
  ::cmo::testing::FakeClock clock_;
  std::unique_ptr<store::PrimaryStore> primary_;
  std::unique_ptr<store::ReplicaStore> replica_;
  int64_t replicated_ = 0;
};

TEST_F(ReconcilerTest, InSyncStoresCompareDigestsOnly) {
  const ReconcileReport r = Run();
  EXPECT_EQ(r.buckets, 64);
  EXPECT_EQ(r.differing_buckets, 0);
  EXPECT_EQ(r.rows_scanned, 0);
  EXPECT_TRUE(r.diffs.empty());
}

TEST_F(ReconcilerTest, EveryClassIsFoundClassifiedAndHealed) {
  // missing: the replica lost a row.
  SetReplica("c-1", std::nullopt);
  // divergent: same version, other bytes.
  store::Row bad = **replica_->Get(kDomain, "c-2");
  bad.value = "corrupted";
  SetReplica("c-2", bad);
  // replica_newer: a version the primary never had.
  store::Row stray = **replica_->Get(kDomain, "c-3");
  stray.lsn += 1000;
  stray.value = "stray";
  SetReplica("c-3", stray);
  // resurrected: deleted on the primary long ago, the delete never reached the replica.
  const int64_t del = Write("c-4", "", /*tombstone=*/true);
  // stale: a newer write that never arrived, older than the staleness window.
  const int64_t upd = Write("c-5", "new");
  clock_.Advance(absl::Minutes(5));
  // in flight: a write of a moment ago, above the replica's watermark.
  Write("c-6", "fresh");
  const ReconcileReport r = Run();
  std::map<std::string, KeyDiff> by_key;
  for (const KeyDiff& d : r.diffs) by_key[d.key] = d;
  ASSERT_EQ(by_key.size(), 6u);
  EXPECT_EQ(by_key["c-1"].diff_class, DiffClass::kMissing);
  EXPECT_EQ(by_key["c-2"].diff_class, DiffClass::kDivergent);
  EXPECT_EQ(by_key["c-3"].diff_class, DiffClass::kReplicaNewer);
  EXPECT_EQ(by_key["c-4"].diff_class, DiffClass::kResurrected);
  EXPECT_EQ(by_key["c-4"].primary_lsn, del);
  EXPECT_EQ(by_key["c-5"].diff_class, DiffClass::kStale);
  EXPECT_EQ(by_key["c-5"].primary_lsn, upd);
  EXPECT_EQ(by_key["c-6"].diff_class, DiffClass::kStale);
  EXPECT_TRUE(by_key["c-6"].in_flight);
  EXPECT_EQ(by_key["c-6"].heal, "");
  EXPECT_EQ(r.healed, 5);
  EXPECT_EQ(r.in_flight, 1);
  EXPECT_LE(r.differing_buckets, 6);
  EXPECT_LT(r.rows_scanned, 2 * 200) << "only differing buckets are scanned";
  // The deleted key stays deleted on the replica: a tombstone, never the old value.
  auto c4 = replica_->Get(kDomain, "c-4");
  ASSERT_TRUE(c4->has_value());
  EXPECT_TRUE((*c4)->tombstone);
  // Once the applier delivers the in-flight write, the stores are equal.
  Replicate();
  EXPECT_TRUE(InSync());
  EXPECT_TRUE(Run().diffs.empty());
}

// Support searches the divergence log by user: a finding names who last wrote the key (the
// primary's writer, else the replica's), long after the outbox that carried it was trimmed.
TEST_F(ReconcilerTest, EveryFindingNamesTheOpAndSubjectThatLastWroteTheKey) {
  Write("c-7", "edited", false, "user-42");
  ASSERT_THAT(primary_->SetPublishedThrough(*primary_->LastLsn()), IsOk());
  ASSERT_THAT(primary_->TrimOutbox(*primary_->LastLsn()), IsOk());
  clock_.Advance(absl::Minutes(5));  // never replicated: stale
  store::Row stray = **replica_->Get(kDomain, "c-8");
  stray.key = "orphan";  // a row the primary never had, written by someone else
  stray.op = "comment.import";
  stray.subject = "user-5";
  SetReplica("orphan", stray);
  const ReconcileReport r = Run();
  std::map<std::string, KeyDiff> by_key;
  for (const KeyDiff& d : r.diffs) by_key[d.key] = d;
  ASSERT_EQ(by_key.size(), 2u);
  EXPECT_EQ(by_key["c-7"].subject, "user-42");
  EXPECT_EQ(by_key["c-7"].op, "comment.post");
  EXPECT_EQ(by_key["orphan"].subject, "user-5");
  EXPECT_EQ(by_key["orphan"].op, "comment.import");
  const DivergenceRecord record = FromKeyDiff(by_key["c-7"], "eu-west", 3, clock_.Now());
  EXPECT_EQ(record.subject, "user-42");
  EXPECT_EQ(record.op, "comment.post");
  EXPECT_EQ(record.heal_action, "replica <- primary");
  // The healed replica row names the writer too.
  auto healed = replica_->Get(kDomain, "c-7");
  ASSERT_TRUE(healed.ok() && healed->has_value());
  EXPECT_EQ((*healed)->subject, "user-42");
}

TEST_F(ReconcilerTest, FullScanFindsCorruptDigests) {
  auto scan = [this](const std::function<void(uint32_t, const store::Row&)>& fn) {
    return replica_->Scan(kDomain, fn);
  };
  auto clean = VerifyDigests(scan, *replica_->Digests(kDomain));
  ASSERT_THAT(clean, IsOk());
  EXPECT_EQ(clean->rows, 200);
  EXPECT_TRUE(clean->corrupt_buckets.empty());
  // A digest changed behind the store's back (as a hand edit or a bug would).
  auto db = base::SqliteDb::Open(dir_.File("replica.db"));
  ASSERT_THAT(db, IsOk());
  ASSERT_THAT((*db)->ExecScript("UPDATE digests SET lo = (lo + 1) % 4294967296 WHERE bucket = 7"),
              IsOk());
  auto corrupt = VerifyDigests(scan, *replica_->Digests(kDomain));
  ASSERT_THAT(corrupt, IsOk());
  EXPECT_THAT(corrupt->corrupt_buckets, ::testing::ElementsAre(7u));
}

TEST_F(ReconcilerTest, CollectedTombstonesNeverLetADeletedRowComeBack) {
  // c-10 is deleted; both sides hold the tombstone; a week later it is collected everywhere.
  Write("c-10", "", /*tombstone=*/true);
  Replicate();
  const store::Row old_write = **primary_->Get(kDomain, "c-11");  // any old live version
  clock_.Advance(absl::Hours(24 * 8));
  const absl::Time cutoff = clock_.Now() - absl::Hours(24 * 7);
  EXPECT_THAT(primary_->CollectTombstones(kDomain, cutoff), ::cmo::testing::IsOkAndHolds(1));
  EXPECT_THAT(replica_->CollectTombstones(kDomain, cutoff), ::cmo::testing::IsOkAndHolds(1));
  EXPECT_FALSE(replica_->Get(kDomain, "c-10")->has_value());
  EXPECT_TRUE(InSync()) << "collected on both sides: digests still agree";
  // A re-published old write of the deleted key reaches the replica (log loss, re-publication).
  store::Row late = old_write;
  late.key = "c-10";
  late.lsn = 1;  // c-10's original insert
  auto stats = replica_->Apply({&late, 1}, {});
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->below_horizon, 1);
  EXPECT_FALSE(replica_->Get(kDomain, "c-10")->has_value()) << "the deleted row stays deleted";
  EXPECT_TRUE(Run().diffs.empty());
}

TEST_F(ReconcilerTest, AReplicaBehindTheTombstoneHorizonIsRefusedForAFullResync) {
  const int64_t del = Write("c-12", "", /*tombstone=*/true);
  clock_.Advance(absl::Hours(24 * 8));
  ASSERT_THAT(primary_->CollectTombstones(kDomain, clock_.Now() - absl::Hours(24 * 7)), IsOk());
  ReconcileOptions o;
  o.domain = kDomain;
  o.replica_watermark = del - 1;  // it never applied the delete
  EXPECT_THAT(Reconcile(*primary_, *replica_, o, clock_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("resync this replica")));
}

// A domain cmo's primary never held (a typo, or one fed by change data capture from the app's
// own table) is refused: against an empty primary, healing would delete every replica row.
TEST_F(ReconcilerTest, ADomainThePrimaryNeverHeldIsRefusedAndTheReplicaKeepsItsRows) {
  const store::Row cdc{"cdc_comments", "7", "{\"id\":7}", 1234, false, clock_.Now()};
  ASSERT_THAT(replica_->Apply({&cdc, 1}, {}), IsOk());
  ReconcileOptions o;
  o.domain = "cdc_comments";
  o.replica_watermark = 1234;
  EXPECT_THAT(Reconcile(*primary_, *replica_, o, clock_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("never held")));
  EXPECT_THAT(ReconcileKeys(*primary_, *replica_, {"7"}, o, clock_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("never held")));
  auto row = replica_->Get("cdc_comments", "7");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_FALSE((*row)->tombstone);
}

TEST_F(ReconcilerTest, DryRunChangesNothing) {
  SetReplica("c-1", std::nullopt);
  ReconcileOptions o;
  o.dry_run = true;
  const ReconcileReport r = Run(o);
  ASSERT_EQ(r.diffs.size(), 1u);
  EXPECT_EQ(r.healed, 0);
  EXPECT_FALSE(InSync());
}

TEST_F(ReconcilerTest, ARepairNeverOverwritesARowThatMovedMeanwhile) {
  const store::ReplicaStore::Fix stale{kDomain, "c-7", /*expected_lsn=*/12345, std::nullopt};
  EXPECT_THAT(replica_->Repair({&stale, 1}), ::cmo::testing::IsOkAndHolds(0));
  EXPECT_TRUE(replica_->Get(kDomain, "c-7")->has_value());
}

TEST_F(ReconcilerTest, LastWriterWinsAndMergeWriteTheWinnerToThePrimary) {
  store::Row later = **replica_->Get(kDomain, "c-8");
  later.lsn += 500;
  later.value = "written on the replica later";
  later.commit_time = clock_.Now();
  SetReplica("c-8", later);
  ReconcileOptions lww;
  lww.policy = HealPolicy::kLastWriterWins;
  ReconcileReport r = Run(lww);
  ASSERT_EQ(r.diffs.size(), 1u);
  EXPECT_EQ(r.diffs[0].heal, "primary <- replica");
  EXPECT_EQ((*primary_->Get(kDomain, "c-8"))->value, "written on the replica later");

  const int64_t set_lsn = Write("likers", R"(["u1","u2"])");
  Replicate();
  store::Row other = **replica_->Get(kDomain, "likers");
  other.value = R"(["u2","u3"])";
  SetReplica("likers", other);  // same version, other members
  ReconcileOptions merge;
  merge.policy = HealPolicy::kMerge;
  r = Run(merge);
  ASSERT_FALSE(r.diffs.empty());
  auto merged = primary_->Get(kDomain, "likers");
  EXPECT_GT((*merged)->lsn, set_lsn);
  EXPECT_EQ((*merged)->value, R"(["u1","u2","u3"])");
  EXPECT_THAT(ParseHealPolicy("newest"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("primary_wins")));
}

// Whatever happens to the replica (lost rows, corrupted bytes, stray versions, missed deletes),
// one primary_wins pass with nothing in flight makes it equal to the primary, row by row.
RC_GTEST_PROP(ReconcilerProperty, OnePassConvergesToThePrimary, ()) {
  ::cmo::testing::TempDir dir;
  ::cmo::testing::FakeClock clock;
  auto primary = *store::PrimaryStore::Open(dir.File("p.db"), clock, {4, false});
  auto replica = *store::ReplicaStore::Open(dir.File("r.db"), {4, false});
  const int keys = *rc::gen::inRange(1, 40);
  std::vector<store::WriteRequest> writes;
  for (int i = 0; i < keys; ++i) {
    writes.push_back({kDomain, "k" + std::to_string(i), "v" + std::to_string(i), false, "", ""});
  }
  RC_ASSERT(primary->Write(writes).ok());
  std::vector<store::Row> rows;
  auto outbox = primary->ReadOutbox(0, 1000);
  RC_ASSERT(outbox.ok());
  for (auto& e : *outbox) rows.push_back(e.row);
  RC_ASSERT(replica->Apply(rows, {}).ok());
  const auto damage = *rc::gen::container<std::vector<std::pair<int, int>>>(
      rc::gen::pair(rc::gen::inRange(0, keys), rc::gen::inRange(0, 5)));
  for (const auto& [k, kind] : damage) {
    const std::string key = "k" + std::to_string(k);
    if (kind == 4) {  // a delete on the primary the replica never sees
      const store::WriteRequest d{kDomain, key, "", true, "", ""};
      RC_ASSERT(primary->Write({&d, 1}).ok());
      continue;
    }
    auto cur = *replica->Get(kDomain, key);
    store::Row r = cur.value_or(store::Row{kDomain, key, "", 1, false, absl::UnixEpoch()});
    std::optional<store::Row> next = r;
    if (kind == 0) next.reset();             // lost
    if (kind == 1) next->value = "garbage";  // corrupted
    if (kind == 2) next->lsn += 100;         // stray version
    if (kind == 3) next->tombstone = true;   // deleted only on the replica
    const store::ReplicaStore::Fix f{kDomain, key, cur.has_value() ? cur->lsn : 0, next};
    RC_ASSERT(replica->Repair({&f, 1}).ok());
  }
  clock.Advance(absl::Hours(1));
  ReconcileOptions o;
  o.domain = kDomain;
  o.replica_watermark = *primary->LastLsn();
  auto report = Reconcile(*primary, *replica, o, clock);
  RC_ASSERT(report.ok());
  RC_ASSERT(*primary->Digests(kDomain) == *replica->Digests(kDomain));
  for (int i = 0; i < keys; ++i) {
    const std::string key = "k" + std::to_string(i);
    RC_ASSERT(*primary->Get(kDomain, key) == *replica->Get(kDomain, key));
  }
  auto again = Reconcile(*primary, *replica, o, clock);
  RC_ASSERT(again.ok());
  RC_ASSERT(again->diffs.empty());
}

}  // namespace
}  // namespace cmo::reconcile
