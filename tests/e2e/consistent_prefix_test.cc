// Consistent-prefix reads under independent replication lag per domain: posts and replies live
// in two domains, each applied to the same replica by its own applier, and each applier is
// paused at random (as when one domain's topic backs up). A replier answers the newest post,
// naming it with `depends_on`; anonymous readers open a reply and then its post, carrying the
// token only within that page. Every operation goes into a Jepsen-style history, checked for
// replies seen before their post. Under `consistent_prefix` there must be none, with most reads
// still served by the replica; the control run under plain `eventual` must find some, else the
// workload proves nothing.
#include <atomic>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "base/kafka.h"
#include "flags/flag_store.h"
#include "gtest/gtest.h"
#include "shadow/applier.h"
#include "shadow/change_event.h"
#include "shadow/client.h"
#include "shadow/outbox_relay.h"
#include "shadow/state_layout.h"
#include "tests/checker/history.h"
#include "tests/fakes/temp_dir.h"

namespace cmo {
namespace {

constexpr int kPartitions = 4;
constexpr int kReaders = 3;
constexpr absl::Duration kRun = absl::Seconds(4);

// The newest few items written, for the next writer or reader to pick from.
class Recent {
 public:
  void Add(std::string key, int64_t lsn) {
    std::lock_guard<std::mutex> lock(mu_);
    items_.emplace_back(std::move(key), lsn);
    if (items_.size() > 8) items_.pop_front();
  }
  std::optional<std::pair<std::string, int64_t>> Pick(uint32_t draw) {
    std::lock_guard<std::mutex> lock(mu_);
    if (items_.empty()) return std::nullopt;
    return items_[draw % items_.size()];
  }

 private:
  std::mutex mu_;
  std::deque<std::pair<std::string, int64_t>> items_;
};

void RegisterOps(const std::string& state_dir, const std::string& read_target) {
  auto flags = flags::FlagStore::Open(shadow::ControlDbPath(state_dir), base::SystemClock());
  ASSERT_TRUE(flags.ok()) << flags.status();
  const flags::ChangeContext ctx{"test", "consistent prefix run", "add", false};
  for (const auto& [op, domain, read] :
       {std::tuple{"post.create", "posts", false}, std::tuple{"comment.create", "comments", false},
        std::tuple{"post.read", "posts", true}, std::tuple{"comment.read", "comments", true}}) {
    flags::Flag f;
    f.op = op;
    f.domain = domain;
    f.target = *flags::ParseTarget(read ? read_target : "read_your_writes");
    ASSERT_TRUE((*flags)->Add(f, ctx).ok());
    if (!read) continue;
    ASSERT_TRUE((*flags)
                    ->Update(op, ctx,
                             [&](flags::Flag& fl) {
                               fl.stage = flags::Stage::kRamp;
                               fl.ramp_bp = 10'000;  // every reader on the eventual path
                               return absl::OkStatus();
                             })
                    .ok());
  }
}

// One domain's applier, paused at random for 20-400 ms at a time.
struct DomainApplier {
  std::unique_ptr<store::ReplicaStore> replica;
  std::unique_ptr<shadow::Applier> applier;
  std::mutex mu;  // Watermark() (relay thread) and Step() share the applier
  std::atomic<bool> paused{false};
};

class ConsistentPrefixTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConsistentPrefixTest, NoReplyIsSeenBeforeItsPostWhileDomainsLagApart) {
  testing::TempDir dir;
  RegisterOps(dir.path(), GetParam());
  auto cluster = base::KafkaMockCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  for (const char* domain : {"posts", "comments"}) {
    ASSERT_TRUE((*cluster)->CreateTopic(shadow::ChangeTopic(domain), kPartitions, 3).ok());
  }
  const base::KafkaConfig kafka = {{"bootstrap.servers", (*cluster)->bootstrap_servers()},
                                   {"log_level", "0"}};
  auto primary = store::PrimaryStore::Open(shadow::PrimaryPath(dir.path()), base::SystemClock(),
                                           {.synchronous_full = false});
  ASSERT_TRUE(primary.ok()) << primary.status();
  std::array<DomainApplier, 2> appliers;
  const std::array<std::string, 2> domains = {"posts", "comments"};
  for (int i = 0; i < 2; ++i) {
    auto replica = store::ReplicaStore::Open(shadow::ReplicaPath(dir.path(), "eu-west"),
                                             {.synchronous_full = false});
    ASSERT_TRUE(replica.ok()) << replica.status();
    appliers[i].replica = *std::move(replica);
    const std::string domain = domains[i];
    auto applier =
        shadow::Applier::Create(*appliers[i].replica, kafka, base::SystemClock(),
                                {.region = "eu-west",
                                 .batch = 500,
                                 .domains = [domain]() -> absl::StatusOr<std::vector<std::string>> {
                                   return std::vector<std::string>{domain};
                                 }});
    ASSERT_TRUE(applier.ok()) << applier.status();
    appliers[i].applier = *std::move(applier);
  }
  auto relay = shadow::OutboxRelay::Create(
      **primary, kafka, [](const std::string&) -> absl::StatusOr<int> { return kPartitions; },
      [&](const std::map<std::string, int>&) -> absl::StatusOr<int64_t> {
        int64_t low = INT64_MAX;
        for (DomainApplier& a : appliers) {
          std::lock_guard<std::mutex> lock(a.mu);
          absl::StatusOr<int64_t> w = a.applier->Watermark();
          if (!w.ok()) return w.status();
          low = std::min(low, *w);
        }
        return low;
      },
      base::SystemClock(), {.heartbeat_interval = absl::Milliseconds(10)});
  ASSERT_TRUE(relay.ok()) << relay.status();

  std::atomic<bool> stop{false};
  std::vector<std::thread> background;
  background.emplace_back([&] {
    while (!stop.load()) ASSERT_TRUE((*relay)->Step(5).ok());
  });
  for (int i = 0; i < 2; ++i) {
    background.emplace_back([&, i] {
      while (!stop.load()) {
        if (appliers[i].paused.load()) {
          absl::SleepFor(absl::Milliseconds(2));
          continue;
        }
        std::lock_guard<std::mutex> lock(appliers[i].mu);
        ASSERT_TRUE(appliers[i].applier->Step(5).ok());
      }
    });
    background.emplace_back([&, i] {
      std::mt19937 rng(11 + i);
      while (!stop.load()) {
        absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(100, 400)(rng)));
        appliers[i].paused.store(true);
        absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(20, 400)(rng)));
        appliers[i].paused.store(false);
      }
    });
  }

  shadow::ClientConfig config;
  config.state_dir = dir.path();
  config.region = "eu-west";
  config.kafka_brokers = "none";
  config.synchronous_full = false;
  config.max_wait = absl::Milliseconds(30);
  auto client = shadow::Client::Open(config);
  ASSERT_TRUE(client.ok()) << client.status();

  checker::HistoryRecorder history;
  Recent posts, replies;
  std::atomic<int64_t> failures{0}, replies_seen{0}, replies_from_replica{0};
  const absl::Time end = absl::Now() + kRun;
  std::vector<std::thread> sessions;
  sessions.emplace_back([&] {  // the poster: process 1
    for (int i = 0; absl::Now() < end; ++i) {
      const std::string key = "p-" + std::to_string(i);
      history.Add({1, "invoke", "write", key, "post", 0, 0});
      auto w = (*client)->Write("post.create", "poster", key, "post");
      if (!w.ok()) {
        ++failures;
        history.Add({1, "info", "write", key, "post", 0, 0});
        continue;
      }
      history.Add({1, "ok", "write", key, "post", w->lsn, 0});
      posts.Add(key, w->lsn);
      absl::SleepFor(absl::Milliseconds(4));
    }
  });
  sessions.emplace_back([&] {  // the replier: process 2, answering a newest post
    std::mt19937 rng(2);
    for (int i = 0; absl::Now() < end; ++i) {
      const auto post = posts.Pick(rng());
      if (!post.has_value()) {
        absl::SleepFor(absl::Milliseconds(1));
        continue;
      }
      const std::string key = "r-" + std::to_string(i);
      checker::HistoryOp op{2, "invoke", "write",     key,         post->first,
                            0, 0,        post->first, post->second};
      history.Add(op);
      auto w = (*client)->Write("comment.create", "replier", key, post->first, "", {},
                                /*depends_on=*/post->second);
      if (!w.ok()) {
        ++failures;
        op.type = "info";
        history.Add(op);
        continue;
      }
      op.type = "ok";
      op.lsn = w->lsn;
      history.Add(op);
      replies.Add(key, w->lsn);
      absl::SleepFor(absl::Milliseconds(4));
    }
  });
  for (int reader = 0; reader < kReaders; ++reader) {
    sessions.emplace_back([&, reader] {
      std::mt19937 rng(100 + reader);
      // Each page is a session of its own (process number): an anonymous reader opens a
      // reply, then the post it answers, carrying the token only within the page.
      for (int page = 0; absl::Now() < end; ++page) {
        const int process = 1000 * (reader + 1) + page;
        const auto reply = replies.Pick(rng());
        if (!reply.has_value()) {
          absl::SleepFor(absl::Milliseconds(1));
          continue;
        }
        history.Add({process, "invoke", "read", reply->first, "", 0, 0});
        auto r = (*client)->Read("comment.read", "reader", reply->first);
        if (!r.ok()) {
          ++failures;
          history.Add({process, "fail", "read", reply->first, "", 0, 0});
          continue;
        }
        history.Add({process, "ok", "read", reply->first, r->value.value_or(""), r->lsn, 0});
        if (!r->value.has_value()) continue;
        ++replies_seen;
        if (r->path == flags::Path::kEventual) ++replies_from_replica;
        const std::string post = *r->value;
        history.Add({process, "invoke", "read", post, "", 0, 0});
        auto p = (*client)->Read("post.read", "reader", post, r->token);
        if (!p.ok()) {
          ++failures;
          history.Add({process, "fail", "read", post, "", 0, 0});
          continue;
        }
        history.Add({process, "ok", "read", post, p->value.value_or(""), p->lsn, 0});
      }
    });
  }
  for (auto& t : sessions) t.join();
  stop.store(true);
  for (auto& t : background) t.join();

  const std::vector<checker::HistoryOp> ops = history.ops();
  {
    std::ofstream out(std::string(::testing::TempDir()) + "consistent_prefix_" + GetParam() +
                      ".jsonl");
    for (const auto& op : ops) out << checker::ToJsonLine(op) << "\n";
  }
  const auto violations = checker::CheckHistory(ops, {.consistent_prefix = true});
  std::printf(
      "%s: %zu ops, %lld replies seen, %lld of them from the replica, %zu replies "
      "before their post\n",
      GetParam().c_str(), ops.size(), static_cast<long long>(replies_seen.load()),
      static_cast<long long>(replies_from_replica.load()), violations.size());
  EXPECT_EQ(failures.load(), 0);
  // Loose bounds (sanitizer builds, a busy CI machine): the workload must have run.
  EXPECT_GT(replies_seen.load(), 100);
  if (GetParam() == "eventual") {
    EXPECT_GT(violations.size(), 0u) << "the pauses should show replies before their posts";
    return;
  }
  for (const auto& v : violations) ADD_FAILURE() << v.guarantee << ": " << v.message;
  EXPECT_GT(replies_from_replica.load(), replies_seen.load() / 2)
      << "the replica should serve most replies: a dependency is usually visible already";
}

INSTANTIATE_TEST_SUITE_P(Models, ConsistentPrefixTest,
                         ::testing::Values("consistent_prefix", "eventual"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cmo
