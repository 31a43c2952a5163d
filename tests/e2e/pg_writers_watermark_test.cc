// Commit order = LSN order on a PostgreSQL primary, end to end (store/README.md): several writer
// processes (primary_writer) hammer one primary while the relay publishes its outbox to Kafka
// and an applier fills a PostgreSQL replica. A checker reads the replica's watermark over and
// over and verifies it against the primary's committed rows: every change at or below the
// watermark must already be on the replica. A writer whose LSN committed after a higher one
// would let the watermark pass a change the replica does not have; none may.
#include <atomic>
#include <map>
#include <thread>

#include "base/kafka.h"
#include "gtest/gtest.h"
#include "shadow/applier.h"
#include "shadow/change_event.h"
#include "shadow/outbox_relay.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/fakes/pg_server.h"
#include "tests/fakes/subprocess.h"

namespace cmo {
namespace {

constexpr int kPartitions = 4;
constexpr int kWriters = 4;

TEST(PgWritersWatermarkTest, EveryChangeAtOrBelowTheWatermarkIsOnTheReplica) {
  auto server = testing::PgServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->CreateDatabase("replica").ok());
  const std::string primary_url = (*server)->Uri();
  auto primary = store::PrimaryStore::Open(primary_url, base::SystemClock());
  auto replica = store::ReplicaStore::Open((*server)->Uri("replica"));
  auto checker_primary = store::PrimaryStore::Open(primary_url, base::SystemClock());
  auto checker_replica = store::ReplicaStore::Open((*server)->Uri("replica"));
  ASSERT_TRUE(primary.ok() && replica.ok() && checker_primary.ok() && checker_replica.ok());
  auto cluster = base::KafkaMockCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  for (const char* domain : {"likes", "comments"}) {
    ASSERT_TRUE((*cluster)->CreateTopic(shadow::ChangeTopic(domain), kPartitions, 3).ok());
  }
  const base::KafkaConfig kafka = {{"bootstrap.servers", (*cluster)->bootstrap_servers()},
                                   {"log_level", "0"}};
  auto applier = shadow::Applier::Create(**replica, kafka, base::SystemClock(),
                                         {.region = "eu-west", .batch = 500});
  ASSERT_TRUE(applier.ok()) << applier.status();
  // Nothing is trimmed (min applied 0): the checker reads the whole outbox.
  auto relay = shadow::OutboxRelay::Create(
      **primary, kafka, [](const std::string&) -> absl::StatusOr<int> { return kPartitions; },
      [](const std::map<std::string, int>&) -> absl::StatusOr<int64_t> { return 0; },
      base::SystemClock(), {.heartbeat_interval = absl::Milliseconds(10)});
  ASSERT_TRUE(relay.ok()) << relay.status();

  std::atomic<bool> stop{false};
  std::thread pipeline([&] {
    while (!stop.load()) {
      ASSERT_TRUE((*relay)->Step(5).ok());
      ASSERT_TRUE((*applier)->Step(5).ok());
    }
  });
  std::vector<std::unique_ptr<testing::Child>> writers;
  for (int w = 0; w < kWriters; ++w) {
    // 1,500 changes each in batches of 3, 150 batches/s, over 50 shared keys: contended.
    writers.push_back(std::make_unique<testing::Child>(
        std::vector<std::string>{CMO_WRITER, primary_url, "1500", "3", "150", "50"}));
  }

  // The checker: a watermark W says every change with LSN <= W is on the replica. A change once
  // seen there stays (newer-only), so each check verifies the changes above the last one's W.
  int checks = 0, violations = 0;
  int64_t max_checked = 0;
  std::atomic<int> writers_done{0};
  std::thread waiter([&] {
    for (auto& w : writers) {
      while (auto line = w->ReadLine()) {
      }
      EXPECT_EQ(w->Wait(), 0);
      ++writers_done;
    }
  });
  auto check_once = [&] {
    int64_t w = INT64_MAX;
    for (const char* domain : {"likes", "comments"}) {
      auto t = (*checker_replica)->TopicWatermark(shadow::ChangeTopic(domain));
      ASSERT_TRUE(t.ok()) << t.status();
      w = std::min(w, *t);
    }
    if (w <= max_checked) return;
    int64_t after = max_checked;
    while (after < w) {
      auto entries = (*checker_primary)->ReadOutbox(after, 2000);
      ASSERT_TRUE(entries.ok()) << entries.status();
      if (entries->empty()) break;
      // One round trip per domain and chunk, not per change: on a loaded machine a query per
      // change made each check so slow that the watermark was checked only a few times.
      std::map<std::string, std::vector<std::string>> keys;
      std::vector<const store::OutboxEntry*> below;
      for (const store::OutboxEntry& e : *entries) {
        after = e.row.lsn;
        if (e.row.lsn > w) break;
        keys[e.row.domain].push_back(e.row.key);
        below.push_back(&e);
      }
      std::map<std::pair<std::string, std::string>, int64_t> on_replica;
      for (const auto& [domain, ks] : keys) {
        auto rows = (*checker_replica)->RowsOfKeys(domain, ks);
        ASSERT_TRUE(rows.ok()) << rows.status();
        for (const store::Row& r : *rows) on_replica[{domain, r.key}] = r.lsn;
      }
      for (const store::OutboxEntry* e : below) {
        auto it = on_replica.find({e->row.domain, e->row.key});
        if (it == on_replica.end() || it->second < e->row.lsn) {
          if (violations++ < 5) {
            ADD_FAILURE() << "watermark " << w << " passed LSN " << e->row.lsn << " (" << e->row.key
                          << ") which the replica does not have";
          }
        }
      }
    }
    ++checks;
    max_checked = std::max(max_checked, w);
  };
  while (writers_done.load() < kWriters) check_once();
  waiter.join();
  const int64_t last = *(*checker_primary)->LastLsn();  // the relay thread owns *primary
  while (max_checked < last) check_once();
  stop = true;
  pipeline.join();
  EXPECT_EQ(last, kWriters * 1500) << "every write committed";
  EXPECT_EQ(violations, 0);
  EXPECT_GT(checks, 10);
  std::printf("%d writer processes, %lld changes, %d watermark checks, %d violations\n", kWriters,
              static_cast<long long>(last), checks, violations);
  EXPECT_EQ(*(*primary)->Digests("likes"), *(*replica)->Digests("likes"));
  EXPECT_EQ(*(*primary)->Digests("comments"), *(*replica)->Digests("comments"));
}

}  // namespace
}  // namespace cmo
