// The PostgreSQL replica against a real throwaway server, fed from the PostgreSQL primary's
// outbox as an applier would be: digests end equal to the primary's, a replay changes nothing,
// an older version never overwrites a newer one, positions commit with the rows, and the
// watermark is the minimum over partitions.
#include "store/pg_replica_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/pg_primary_store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/pg_server.h"

namespace cmo::store {
namespace {

TEST(PgReplicaStore, AppliesThePrimarysOutboxNewerOnlyWithPositions) {
  auto server = testing::PgServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->CreateDatabase("primary").ok());
  ASSERT_TRUE((*server)->CreateDatabase("replica_eu").ok());
  testing::FakeClock clock;
  auto primary = PgPrimaryStore::Open((*server)->Uri("primary"), clock);
  auto replica = PgReplicaStore::Open((*server)->Uri("replica_eu"));
  ASSERT_TRUE(primary.ok() && replica.ok()) << primary.status() << replica.status();
  std::vector<WriteRequest> writes;
  for (int i = 0; i < 60; ++i) {
    writes.push_back({"likes", "k" + std::to_string(i % 23), "v" + std::to_string(i), i % 9 == 0,
                      "post.like", "u"});
  }
  ASSERT_TRUE((*primary)->Write(writes).ok());
  auto outbox = (*primary)->ReadOutbox(0, 1000);
  ASSERT_TRUE(outbox.ok());
  std::vector<Row> rows;
  for (const OutboxEntry& e : *outbox) rows.push_back(e.row);
  const std::vector<PartitionProgress> positions = {{"cmo.changes.likes", 0, 61, 60, 60},
                                                    {"cmo.changes.likes", 1, 5, 40, 4}};
  auto applied = (*replica)->Apply(rows, positions);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->applied, 60);
  EXPECT_EQ(*(*replica)->Digests("likes"), *(*primary)->Digests("likes"));
  // A replay (a crash before the consumer's commit) is harmless.
  auto again = (*replica)->Apply(rows, positions);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->applied, 0);
  EXPECT_EQ(again->stale, 60);
  EXPECT_EQ(*(*replica)->Digests("likes"), *(*primary)->Digests("likes"));
  // An older version of a key never replaces a newer one.
  Row old = rows.front();
  old.lsn = 0;
  old.value = "stale";
  ASSERT_TRUE((*replica)->Apply({&old, 1}, {}).ok());
  EXPECT_EQ(**(*replica)->Get("likes", old.key), **(*primary)->Get("likes", old.key));
  // Positions only move forward; the watermark is the minimum over partitions.
  ASSERT_TRUE((*replica)->Apply({}, {{{"cmo.changes.likes", 1, 6, 30, 5}}}).ok());
  const std::vector<std::pair<std::string, int32_t>> parts = {{"cmo.changes.likes", 0},
                                                              {"cmo.changes.likes", 1}};
  EXPECT_EQ(*(*replica)->Watermark(parts), 40);
  const std::vector<std::pair<std::string, int32_t>> with_unseen = {{"cmo.changes.likes", 0},
                                                                    {"cmo.changes.likes", 2}};
  EXPECT_EQ(*(*replica)->Watermark(with_unseen), 0) << "a partition never seen holds it at 0";
}

}  // namespace
}  // namespace cmo::store
