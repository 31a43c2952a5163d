#include <algorithm>
#include <array>
#include <map>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"
#include "tests/status_matchers.h"
// After gtest.h, which it needs.
#include <rapidcheck/gtest.h>

namespace cmo::store {
namespace {

using ::cmo::testing::IsOk;
using ::cmo::testing::IsOkAndHolds;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto primary = PrimaryStore::Open(dir_.File("primary.db"), clock_, {6, false});
    ASSERT_THAT(primary, IsOk());
    primary_ = *std::move(primary);
    auto replica = ReplicaStore::Open(dir_.File("replica.db"), {6, false});
    ASSERT_THAT(replica, IsOk());
    replica_ = *std::move(replica);
  }

  std::vector<int64_t> Write(std::vector<WriteRequest> writes) {
    auto lsns = primary_->Write(writes);
    EXPECT_THAT(lsns, IsOk());
    return lsns.ok() ? *lsns : std::vector<int64_t>();
  }

  std::vector<Row> Outbox() {
    auto entries = primary_->ReadOutbox(0, 1'000'000);
    EXPECT_THAT(entries, IsOk());
    std::vector<Row> rows;
    for (const OutboxEntry& e : *entries) rows.push_back(e.row);
    return rows;
  }

  ::cmo::testing::TempDir dir_;
  ::cmo::testing::FakeClock clock_;
  std::unique_ptr<PrimaryStore> primary_;
  std::unique_ptr<ReplicaStore> replica_;
};

TEST_F(StoreTest, PrimaryAssignsConsecutiveLsnsAndQueuesEveryWrite) {
  EXPECT_EQ(Write({{"likes", "k1", "v1", false, "post.like", "u1"},
                   {"likes", "k2", "v2", false, "post.like", "u2"}}),
            (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Write({{"likes", "k1", "", true, "post.unlike", "u1"}}), (std::vector<int64_t>{3}));
  auto row = primary_->Get("likes", "k1");
  ASSERT_THAT(row, IsOk());
  EXPECT_TRUE((*row)->tombstone);
  EXPECT_EQ((*row)->lsn, 3);
  auto outbox = primary_->ReadOutbox(1, 10);
  ASSERT_THAT(outbox, IsOk());
  ASSERT_EQ(outbox->size(), 2u);
  EXPECT_EQ((*outbox)[0].row.lsn, 2);
  EXPECT_EQ((*outbox)[1].op, "post.unlike");
  EXPECT_THAT(primary_->LastLsn(), IsOkAndHolds(3));
  ASSERT_THAT(primary_->SetPublishedThrough(2), IsOk());
  EXPECT_THAT(primary_->PublishedThrough(), IsOkAndHolds(2));
  ASSERT_THAT(primary_->TrimOutbox(2), IsOk());
  EXPECT_THAT(primary_->OutboxSize(), IsOkAndHolds(1));
}

TEST_F(StoreTest, ReplicaAppliesOnlyNewerVersions) {
  Write({{"likes", "k", "a", false, "op", "s"}});
  Write({{"likes", "k", "b", false, "op", "s"}});
  const std::vector<Row> rows = Outbox();  // k@1=a, k@2=b
  // Reordered and duplicated delivery: newest LSN wins, the rest is ignored.
  const std::vector<Row> delivery = {rows[1], rows[0], rows[1], rows[0]};
  auto stats = replica_->Apply(delivery, {});
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->applied, 1);
  EXPECT_EQ(stats->stale, 3);
  auto row = replica_->Get("likes", "k");
  ASSERT_THAT(row, IsOk());
  EXPECT_EQ((*row)->value, "b");
  EXPECT_EQ((*row)->lsn, 2);
}

TEST_F(StoreTest, ALateOlderWriteNeverResurrectsADeletedKey) {
  Write({{"comments", "c-1", "hello", false, "comment.create", "u"}});
  Write({{"comments", "c-1", "", true, "comment.delete", "u"}});
  const std::vector<Row> rows = Outbox();
  ASSERT_THAT(replica_->Apply(std::vector<Row>{rows[1]}, {}), IsOk());  // the delete first
  ASSERT_THAT(replica_->Apply(std::vector<Row>{rows[0]}, {}), IsOk());  // then the late create
  auto row = replica_->Get("comments", "c-1");
  ASSERT_THAT(row, IsOk());
  EXPECT_TRUE((*row)->tombstone);
  EXPECT_EQ((*row)->lsn, 2);
}

TEST_F(StoreTest, ProgressCommitsWithRowsAndGivesTheWatermark) {
  Write({{"likes", "k", "a", false, "op", "s"}});
  const std::vector<PartitionProgress> progress = {{"cmo.changes.likes", 0, 11, 7, 3},
                                                   {"cmo.changes.likes", 1, 5, 4, 2}};
  ASSERT_THAT(replica_->Apply(Outbox(), progress), IsOk());
  EXPECT_THAT(replica_->Progress(), IsOkAndHolds(progress));
  const std::vector<std::pair<std::string, int32_t>> parts = {{"cmo.changes.likes", 0},
                                                              {"cmo.changes.likes", 1}};
  EXPECT_THAT(replica_->Watermark(parts), IsOkAndHolds(4));
  const std::vector<std::pair<std::string, int32_t>> with_unseen = {{"cmo.changes.likes", 0},
                                                                    {"cmo.changes.likes", 2}};
  EXPECT_THAT(replica_->Watermark(with_unseen), IsOkAndHolds(0));
  ASSERT_THAT(replica_->ResetProgress(), IsOk());
  EXPECT_THAT(replica_->Watermark(parts), IsOkAndHolds(0));
}

TEST_F(StoreTest, DigestsMatchOnlyWhenRowsMatch) {
  for (int i = 0; i < 200; ++i) {
    Write({{"likes", "key-" + std::to_string(i), "v" + std::to_string(i), i % 7 == 0, "op", "s"}});
  }
  std::vector<Row> rows = Outbox();
  std::shuffle(rows.begin(), rows.end(), std::mt19937(42));
  ASSERT_THAT(replica_->Apply(rows, {}), IsOk());
  auto p = primary_->Digests("likes");
  auto r = replica_->Digests("likes");
  ASSERT_THAT(p, IsOk());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(p->size(), 64u);
  EXPECT_EQ(*p, *r);
  // One divergent row on the replica changes exactly its own bucket's digest.
  Row bad = rows[0];
  bad.value = "tampered";
  bad.lsn += 1'000'000;
  ASSERT_THAT(replica_->Apply(std::vector<Row>{bad}, {}), IsOk());
  r = replica_->Digests("likes");
  ASSERT_THAT(r, IsOk());
  int differing = 0;
  for (size_t b = 0; b < p->size(); ++b) differing += (*p)[b] != (*r)[b];
  EXPECT_EQ(differing, 1);
  EXPECT_NE((*p)[DigestBucket(bad.key, 6)], (*r)[DigestBucket(bad.key, 6)]);
  // The digest is the sum of the hashes of the bucket's rows.
  auto in_bucket = primary_->RowsInBucket("likes", DigestBucket(bad.key, 6));
  ASSERT_THAT(in_bucket, IsOk());
  uint64_t sum = 0;
  for (const Row& row : *in_bucket) sum += RowHash(row);
  EXPECT_EQ(sum, (*p)[DigestBucket(bad.key, 6)]);
}

// Random writes and deletes on a few keys, delivered to the replica in random order, with
// duplicates and replays of whole prefixes (a crashed applier re-reading), always converge to
// the primary's state, row by row and digest by digest.
RC_GTEST_PROP(StoreConvergence, AnyDeliveryOrderConverges, ()) {
  ::cmo::testing::TempDir dir;
  ::cmo::testing::FakeClock clock;
  auto primary = PrimaryStore::Open(dir.File("p.db"), clock, {4, false});
  auto replica = ReplicaStore::Open(dir.File("r.db"), {4, false});
  RC_ASSERT(primary.ok() && replica.ok());
  const int n = *rc::gen::inRange(1, 60);
  // Written in batches of 1-8: one transaction may write a key several times (its bucket's
  // digest then changes by the sum of the steps), and may write both domains.
  const std::array<std::string, 2> domains = {"d", "e"};
  std::vector<WriteRequest> w;
  for (int i = 0; i < n; ++i) {
    const int key = *rc::gen::inRange(0, 8);
    const bool del = *rc::gen::inRange(0, 4) == 0;
    const std::string& domain = domains[static_cast<size_t>(*rc::gen::inRange(0, 2))];
    w.push_back({domain, "k" + std::to_string(key), "v" + std::to_string(i), del, "op", "s"});
    if (i == n - 1 || *rc::gen::inRange(0, 8) == 0) {
      RC_ASSERT((*primary)->Write(w).ok());
      w.clear();
    }
  }
  auto outbox = (*primary)->ReadOutbox(0, 1000);
  RC_ASSERT(outbox.ok());
  std::vector<Row> delivery;
  for (const OutboxEntry& e : *outbox) delivery.push_back(e.row);
  const auto extra = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, n));
  for (int i : extra) delivery.push_back(delivery[static_cast<size_t>(i)]);  // duplicates
  const auto order = *rc::gen::arbitrary<uint32_t>();
  std::shuffle(delivery.begin(), delivery.end(), std::mt19937(order));
  // Apply in random-sized batches, as an applier restarting mid-stream would.
  size_t at = 0;
  while (at < delivery.size()) {
    const size_t len = static_cast<size_t>(*rc::gen::inRange(1, 10));
    const size_t end = std::min(delivery.size(), at + len);
    RC_ASSERT((*replica)->Apply(std::span<const Row>(delivery).subspan(at, end - at), {}).ok());
    at = end;
  }
  for (const std::string& domain : domains) {
    for (int key = 0; key < 8; ++key) {
      const std::string k = "k" + std::to_string(key);
      auto p = (*primary)->Get(domain, k);
      auto r = (*replica)->Get(domain, k);
      RC_ASSERT(p.ok() && r.ok());
      RC_ASSERT(*p == *r);
    }
    RC_ASSERT(*(*primary)->Digests(domain) == *(*replica)->Digests(domain));
    // And each digest is what it claims to be: the sum of its bucket's row hashes.
    const std::vector<uint64_t> digests = *(*primary)->Digests(domain);
    for (uint32_t b = 0; b < digests.size(); ++b) {
      const absl::StatusOr<std::vector<Row>> rows = (*primary)->RowsInBucket(domain, b);
      RC_ASSERT(rows.ok());
      uint64_t sum = 0;
      for (const Row& row : *rows) sum += RowHash(row);
      RC_ASSERT(sum == digests[b]);
    }
  }
}

}  // namespace
}  // namespace cmo::store
