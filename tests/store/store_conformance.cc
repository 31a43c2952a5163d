#include "tests/store/store_conformance.h"

#include <algorithm>
#include <array>
#include <map>
#include <numeric>
#include <random>

#include "gmock/gmock.h"
#include "tests/status_matchers.h"
// After gtest.h, which it needs.
#include <rapidcheck.h>

namespace cmo::store::conformance {

using ::cmo::testing::IsOk;
using ::cmo::testing::IsOkAndHolds;

void StoreConformance::SetUp() {
  backend_ = GetParam()();
  ASSERT_NE(backend_, nullptr);
  auto p_at = backend_->Fresh(6);
  auto r_at = backend_->Fresh(6);
  ASSERT_THAT(p_at, IsOk());
  ASSERT_THAT(r_at, IsOk());
  auto primary = PrimaryStore::Open(p_at->url, clock_, p_at->options);
  ASSERT_THAT(primary, IsOk());
  primary_ = *std::move(primary);
  auto replica = ReplicaStore::Open(r_at->url, r_at->options);
  ASSERT_THAT(replica, IsOk());
  replica_ = *std::move(replica);
}

std::vector<int64_t> StoreConformance::Write(std::vector<WriteRequest> writes) {
  auto lsns = primary_->Write(writes);
  EXPECT_THAT(lsns, IsOk());
  return lsns.ok() ? *lsns : std::vector<int64_t>();
}

std::vector<Row> StoreConformance::Outbox() {
  auto entries = primary_->ReadOutbox(0, 1'000'000);
  EXPECT_THAT(entries, IsOk());
  std::vector<Row> rows;
  if (entries.ok()) {
    for (const OutboxEntry& e : *entries) rows.push_back(e.row);
  }
  return rows;
}

TEST_P(StoreConformance, PrimaryAssignsConsecutiveLsnsAndQueuesEveryWrite) {
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
  EXPECT_EQ((*outbox)[1].row.op, "post.unlike");
  EXPECT_THAT(primary_->LastLsn(), IsOkAndHolds(3));
  ASSERT_THAT(primary_->SetPublishedThrough(2), IsOk());
  EXPECT_THAT(primary_->PublishedThrough(), IsOkAndHolds(2));
  ASSERT_THAT(primary_->TrimOutbox(2), IsOk());
  EXPECT_THAT(primary_->OutboxSize(), IsOkAndHolds(1));
}

TEST_P(StoreConformance, RepublishRequestsAreNumberedInOrder) {
  EXPECT_THAT(primary_->RepublishRequests(), IsOkAndHolds(0));
  EXPECT_THAT(primary_->RequestRepublish(), IsOkAndHolds(1));
  EXPECT_THAT(primary_->RequestRepublish(), IsOkAndHolds(2));
  EXPECT_THAT(primary_->RepublishRequests(), IsOkAndHolds(2));
}

// Who last wrote each row stays with it on the primary and, through the change event, on the
// replica, on every read path; it is provenance, not content (digests ignore it).
TEST_P(StoreConformance, EveryRowNamesTheOpAndSubjectThatLastWroteIt) {
  Write({{"comments", "c-1", "hello", false, "comment.create", "user-7"},
         {"comments", "c-2", "hi", false, "comment.create", "user-8"}});
  Write({{"comments", "c-1", "", true, "comment.delete", "user-9"}});
  auto expect_writers = [](RowStore& store) {
    auto one = store.Get("comments", "c-1");
    ASSERT_THAT(one, IsOk());
    ASSERT_TRUE(one->has_value());
    EXPECT_EQ((*one)->op, "comment.delete");
    EXPECT_EQ((*one)->subject, "user-9");
    std::map<std::string, std::string> by_key;
    ASSERT_THAT(store.Scan("comments", [&](uint32_t, const Row& r) { by_key[r.key] = r.subject; }),
                IsOk());
    EXPECT_EQ(by_key, (std::map<std::string, std::string>{{"c-1", "user-9"}, {"c-2", "user-8"}}));
    const std::vector<std::string> keys = {"c-2"};
    auto of_keys = store.RowsOfKeys("comments", keys);
    ASSERT_THAT(of_keys, IsOk());
    ASSERT_EQ(of_keys->size(), 1u);
    EXPECT_EQ((*of_keys)[0].op, "comment.create");
    auto bucket = store.RowsInBucket("comments", DigestBucket("c-2", store.digest_bits()));
    ASSERT_THAT(bucket, IsOk());
    EXPECT_TRUE(std::any_of(bucket->begin(), bucket->end(),
                            [](const Row& r) { return r.subject == "user-8"; }));
  };
  expect_writers(*primary_);
  ASSERT_THAT(replica_->Apply(Outbox(), {}), IsOk());
  expect_writers(*replica_);
  EXPECT_EQ(*primary_->Digests("comments"), *replica_->Digests("comments"));
  // The same rows with no writer named digest the same.
  auto replica2_at = backend_->Fresh(6);
  ASSERT_THAT(replica2_at, IsOk());
  auto replica2 = ReplicaStore::Open(replica2_at->url, replica2_at->options);
  ASSERT_THAT(replica2, IsOk());
  std::vector<Row> anonymous = Outbox();
  for (Row& r : anonymous) r.op = r.subject = "";
  ASSERT_THAT((*replica2)->Apply(anonymous, {}), IsOk());
  EXPECT_EQ(*primary_->Digests("comments"), *(*replica2)->Digests("comments"));
}

TEST_P(StoreConformance, ADependencyTravelsWithItsRowAndMustBeCommittedAlready) {
  const int64_t post = Write({{"posts", "p-1", "a post", false, "post.create", "u1"}}).at(0);
  WriteRequest reply{"comments", "r-1", "a reply", false, "comment.create", "u2"};
  reply.depends_on = post;
  EXPECT_EQ(Write({reply}), (std::vector<int64_t>{post + 1}));
  auto expect_dependency = [&](RowStore& store) {
    auto row = store.Get("comments", "r-1");
    ASSERT_THAT(row, IsOk());
    ASSERT_TRUE(row->has_value());
    EXPECT_EQ((*row)->depends_on, post);
    auto scanned = store.RowsOfKeys("comments", std::vector<std::string>{"r-1"});
    ASSERT_THAT(scanned, IsOk());
    ASSERT_EQ(scanned->size(), 1u);
    EXPECT_EQ((*scanned)[0].depends_on, post);
    auto first = store.Get("posts", "p-1");
    ASSERT_THAT(first, IsOk());
    EXPECT_EQ((*first)->depends_on, 0);
  };
  expect_dependency(*primary_);
  const std::vector<Row> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 2u);
  EXPECT_EQ(outbox[1].depends_on, post);
  ASSERT_THAT(replica_->Apply(outbox, {}), IsOk());
  expect_dependency(*replica_);
  // It is not part of the version: the digests agree with or without it.
  EXPECT_EQ(*primary_->Digests("comments"), *replica_->Digests("comments"));

  // A version the primary has not committed (its own LSN, a later one, a negative one) is
  // refused, and the batch with it writes nothing. (post + 2 would be the batch's first write,
  // which the second may follow.)
  for (const int64_t bad : {post + 3, post + 50, int64_t{-1}}) {
    WriteRequest ahead{"comments", "r-2", "too early", false, "comment.create", "u2"};
    ahead.depends_on = bad;
    const std::vector<WriteRequest> batch = {{"comments", "r-3", "fine", false, "c", "u"}, ahead};
    auto refused = primary_->Write(batch);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("has not committed"));
  }
  EXPECT_THAT(primary_->LastLsn(), IsOkAndHolds(post + 1));
  EXPECT_THAT(primary_->Get("comments", "r-3"), IsOkAndHolds(std::nullopt));
}

TEST_P(StoreConformance, TheOutboxSaysWhichChangesTakeThePriorityChannel) {
  WriteRequest fast{"posts", "p-1", "v", false, "post.create", "celebrity"};
  fast.priority = true;
  Write({fast, {"posts", "p-2", "v", false, "post.create", "user-1"}});
  auto outbox = primary_->ReadOutbox(0, 10);
  ASSERT_THAT(outbox, IsOk());
  ASSERT_EQ(outbox->size(), 2u);
  EXPECT_TRUE((*outbox)[0].priority);
  EXPECT_FALSE((*outbox)[1].priority);
}

TEST_P(StoreConformance, ReplicaAppliesOnlyNewerVersions) {
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

TEST_P(StoreConformance, ALateOlderWriteNeverResurrectsADeletedKey) {
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

TEST_P(StoreConformance, ProgressCommitsWithRowsAndGivesTheWatermark) {
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
  // A partition awaiting re-publication records batches that do not raise its highest LSN
  // (0), then the answer clears its request.
  ASSERT_THAT(
      replica_->Apply({}, std::vector<PartitionProgress>{{"cmo.changes.likes", 1, 9, 0, 0}}),
      IsOk());
  EXPECT_THAT(replica_->Progress(), IsOkAndHolds(std::vector<PartitionProgress>{
                                        progress[0], {"cmo.changes.likes", 1, 9, 4, 0}}));
  ASSERT_THAT(replica_->ResetProgress(), IsOk());
  EXPECT_THAT(replica_->Watermark(parts), IsOkAndHolds(0));
}

TEST_P(StoreConformance, DigestsMatchOnlyWhenRowsMatch) {
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

// What reconciliation reads first (key and hash per row of some buckets) and then (whole rows
// of the keys that differ) agrees with the rows themselves, for byte keys and tombstones too.
TEST_P(StoreConformance, SummariesAndRowsOfKeysAgreeWithTheRows) {
  const std::string byte_key = std::string("k\0{\"}\\", 6) + "\xff";
  Write({{"likes", byte_key, "v", false, "op", "s"}});
  for (int i = 0; i < 100; ++i) {
    Write({{"likes", "key-" + std::to_string(i), "v" + std::to_string(i), i % 9 == 0, "op", "s"}});
  }
  std::vector<uint32_t> buckets(64);
  std::iota(buckets.begin(), buckets.end(), 0u);
  auto summaries = primary_->SummariesInBuckets("likes", buckets);
  ASSERT_THAT(summaries, IsOk());
  ASSERT_EQ(summaries->size(), 101u);
  std::vector<std::string> keys;
  for (const RowSummary& s : *summaries) {
    auto row = primary_->Get("likes", s.key);
    ASSERT_THAT(row, IsOk());
    ASSERT_TRUE(row->has_value()) << s.key;
    EXPECT_EQ(s.hash, RowHash(**row));
    keys.push_back(s.key);
  }
  // Only the asked buckets.
  const uint32_t one = DigestBucket(byte_key, 6);
  auto only = primary_->SummariesInBuckets("likes", std::span<const uint32_t>(&one, 1));
  ASSERT_THAT(only, IsOk());
  for (const RowSummary& s : *only) EXPECT_EQ(DigestBucket(s.key, 6), one);
  EXPECT_TRUE(std::any_of(only->begin(), only->end(),
                          [&](const RowSummary& s) { return s.key == byte_key; }));
  // Rows of keys: the existing ones, whole; unknown keys are left out.
  keys.push_back("no-such-key");
  auto rows = primary_->RowsOfKeys("likes", keys);
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 101u);
  for (const Row& r : *rows) {
    auto row = primary_->Get("likes", r.key);
    ASSERT_THAT(row, IsOk());
    EXPECT_EQ(r, **row);
  }
  EXPECT_THAT(primary_->RowsOfKeys("likes", {}), IsOkAndHolds(::testing::IsEmpty()));
}

// Keys and values are bytes: NUL, quotes, backslashes and array-literal punctuation survive
// every path (the PostgreSQL backend sends whole batches as array literals).
TEST_P(StoreConformance, KeysAndValuesAreBytes) {
  const std::string key = std::string("a\0\"b\\{c},d ", 11) + "\xff\x01";
  const std::string value = std::string("\0\0{\"x\"}\\\\", 10) + "NULL";
  Write({{"likes", key, value, false, "op", "s"}, {"likes", "NULL", "", false, "op", "s"}});
  auto row = primary_->Get("likes", key);
  ASSERT_THAT(row, IsOk());
  ASSERT_TRUE(row->has_value());
  EXPECT_EQ((*row)->key, key);
  EXPECT_EQ((*row)->value, value);
  const std::vector<Row> rows = Outbox();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].key, key);
  EXPECT_EQ(rows[0].value, value);
  ASSERT_THAT(replica_->Apply(rows, {}), IsOk());
  auto copy = replica_->Get("likes", key);
  ASSERT_THAT(copy, IsOk());
  ASSERT_TRUE(copy->has_value());
  EXPECT_EQ(**copy, **row);
  EXPECT_EQ(*primary_->Digests("likes"), *replica_->Digests("likes"));
}

// One transaction writing a key three times: three LSNs, the last version stored, and the
// digest that of the last version only.
TEST_P(StoreConformance, ABatchMayWriteAKeySeveralTimes) {
  EXPECT_EQ(Write({{"likes", "k", "1", false, "op", "s"},
                   {"likes", "k", "", true, "op", "s"},
                   {"likes", "k", "3", false, "op", "s"}}),
            (std::vector<int64_t>{1, 2, 3}));
  auto row = primary_->Get("likes", "k");
  ASSERT_THAT(row, IsOk());
  EXPECT_EQ((*row)->value, "3");
  EXPECT_EQ((*row)->lsn, 3);
  auto digests = primary_->Digests("likes");
  ASSERT_THAT(digests, IsOk());
  EXPECT_EQ((*digests)[DigestBucket("k", 6)], RowHash(**row));
  EXPECT_EQ(Outbox().size(), 3u);
}

TEST_P(StoreConformance, TombstonesAreCollectedAndTheHorizonRefusesOlderRows) {
  Write({{"c", "gone", "x", false, "op", "s"}});
  clock_.Advance(absl::Hours(2));
  Write({{"c", "gone", "", true, "op", "s"}, {"c", "kept", "y", false, "op", "s"}});
  const std::vector<Row> rows = Outbox();
  ASSERT_THAT(replica_->Apply(std::vector<Row>{rows[1], rows[2]}, {}), IsOk());
  const absl::Time cutoff = clock_.Now() + absl::Minutes(1);
  EXPECT_THAT(primary_->CollectTombstones("c", cutoff), IsOkAndHolds(1));
  EXPECT_THAT(replica_->CollectTombstones("c", cutoff), IsOkAndHolds(1));
  EXPECT_THAT(primary_->TombstoneHorizon(),
              IsOkAndHolds(absl::FromUnixMillis(absl::ToUnixMillis(cutoff))));
  EXPECT_THAT(primary_->CollectedThroughLsn(), IsOkAndHolds(2));
  EXPECT_THAT(replica_->CollectedThroughLsn(), IsOkAndHolds(2));
  EXPECT_THAT(replica_->CountRows("c"), IsOkAndHolds(1));
  // The late create of the collected key is older than the horizon: refused, not resurrected.
  auto stats = replica_->Apply(std::vector<Row>{rows[0]}, {});
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->below_horizon, 1);
  EXPECT_THAT(replica_->Get("c", "gone"), IsOkAndHolds(std::nullopt));
  EXPECT_EQ(*primary_->Digests("c"), *replica_->Digests("c"));
}

TEST_P(StoreConformance, RepairAppliesOnlyWhereTheRowDidNotMove) {
  Write({{"d", "a", "1", false, "op", "s"}, {"d", "b", "2", false, "op", "s"}});
  const std::vector<Row> rows = Outbox();
  ASSERT_THAT(replica_->Apply(std::vector<Row>{rows[1]}, {}), IsOk());
  Row extra{"d", "zombie", "z", 99, false, clock_.Now()};
  ASSERT_THAT(replica_->Apply(std::vector<Row>{extra}, {}), IsOk());
  const std::vector<ReplicaStore::Fix> fixes = {
      {"d", "a", 0, rows[0]},             // missing: copied
      {"d", "zombie", 99, std::nullopt},  // extra: deleted
      {"d", "b", 1, rows[1]},             // expected version 1 but it is 2: moved, skipped
  };
  EXPECT_THAT(replica_->Repair(fixes), IsOkAndHolds(2));
  EXPECT_THAT(replica_->Get("d", "zombie"), IsOkAndHolds(std::nullopt));
  EXPECT_EQ(*primary_->Digests("d"), *replica_->Digests("d"));
}

TEST_P(StoreConformance, ScanVisitsEveryRowInBucketKeyOrder) {
  std::vector<WriteRequest> writes;
  // More rows than one page of a PostgreSQL scan (10,000).
  for (int i = 0; i < 10'050; ++i)
    writes.push_back({"s", "k" + std::to_string(i), "v", false, "op", "s"});
  Write(writes);
  Write({{"t", "other", "v", false, "op", "s"}});
  std::vector<std::pair<uint32_t, std::string>> seen;
  ASSERT_THAT(primary_->Scan("s",
                             [&](uint32_t bucket, const Row& row) {
                               EXPECT_EQ(bucket, DigestBucket(row.key, 6));
                               seen.emplace_back(bucket, row.key);
                             }),
              IsOk());
  EXPECT_EQ(seen.size(), 10'050u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_THAT(primary_->Domains(), IsOkAndHolds(std::vector<std::string>{"s", "t"}));
  EXPECT_EQ(primary_->digest_bits(), 6);
}

TEST_P(StoreConformance, TopicWatermarkNeedsEveryPartitionAndClampLowersIt) {
  ASSERT_THAT(replica_->SetTopicPartitions({{"cmo.changes.likes", 2}}), IsOk());
  EXPECT_THAT(replica_->TopicPartitions("cmo.changes.likes"), IsOkAndHolds(2));
  EXPECT_THAT(replica_->TopicPartitions("nope"), IsOkAndHolds(0));
  ASSERT_THAT(
      replica_->Apply({}, std::vector<PartitionProgress>{{"cmo.changes.likes", 0, 3, 9, 1}}),
      IsOk());
  EXPECT_THAT(replica_->TopicWatermark("cmo.changes.likes"), IsOkAndHolds(0));  // p1 unseen
  ASSERT_THAT(
      replica_->Apply({}, std::vector<PartitionProgress>{{"cmo.changes.likes", 1, 4, 12, 1}}),
      IsOk());
  EXPECT_THAT(replica_->TopicWatermark("cmo.changes.likes"), IsOkAndHolds(9));
  // A position never goes back on replay: max_lsn only rises.
  ASSERT_THAT(
      replica_->Apply({}, std::vector<PartitionProgress>{{"cmo.changes.likes", 0, 3, 2, 1}}),
      IsOk());
  EXPECT_THAT(replica_->TopicWatermark("cmo.changes.likes"), IsOkAndHolds(9));
  EXPECT_THAT(replica_->ClampProgress(10), IsOkAndHolds(1));
  EXPECT_THAT(replica_->TopicWatermark("cmo.changes.likes"), IsOkAndHolds(9));
  EXPECT_THAT(replica_->ClampProgress(5), IsOkAndHolds(2));
  EXPECT_THAT(replica_->TopicWatermark("cmo.changes.likes"), IsOkAndHolds(5));
}

TEST_P(StoreConformance, EmptyWritesAndEmptyAppliesAreHarmless) {
  EXPECT_EQ(Write({}), std::vector<int64_t>());
  EXPECT_THAT(primary_->LastLsn(), IsOkAndHolds(0));
  auto stats = replica_->Apply({}, {});
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->applied, 0);
  EXPECT_THAT(primary_->Get("x", "y"), IsOkAndHolds(std::nullopt));
}

// Random writes and deletes on a few keys, delivered to the replica in random order, with
// duplicates and replays of whole prefixes (a crashed applier re-reading), always converge to
// the primary's state, row by row and digest by digest.
TEST_P(StoreConformance, AnyDeliveryOrderConverges) {
  const bool ok = rc::check([&] {
    auto p_at = backend_->Fresh(4);
    auto r_at = backend_->Fresh(4);
    RC_ASSERT(p_at.ok() && r_at.ok());
    auto primary = PrimaryStore::Open(p_at->url, clock_, p_at->options);
    auto replica = ReplicaStore::Open(r_at->url, r_at->options);
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
  });
  EXPECT_TRUE(ok);
}

}  // namespace cmo::store::conformance
