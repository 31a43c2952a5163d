#include "orchestrator/bench/tiers_bench.h"

#include <atomic>
#include <optional>
#include <random>
#include <thread>
#include <tuple>

#include "absl/cleanup/cleanup.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "flags/tier_store.h"
#include "orchestrator/bench/bench_util.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/server.h"
#include "shadow/client.h"

namespace cmo::orchestrator {
namespace {
constexpr char kOp[] = "reply.post";
constexpr char kDomain[] = "replies";
constexpr char kCelebrity[] = "celebrity-1";
constexpr char kPostOp[] = "post.create";
constexpr char kPostDomain[] = "posts";

// `cmo serve`'s data path in this process over a fresh state dir with the bench's op (and,
// with `priority`, a priority tier holding kCelebrity), and a client of the first region.
struct Deployment {
  std::optional<ScopedTempDir> tmp;
  std::unique_ptr<Server> server;
  std::unique_ptr<shadow::Client> client;
  ~Deployment() {
    client.reset();
    if (server != nullptr) server->Stop().IgnoreError();
  }
};

absl::StatusOr<std::unique_ptr<Deployment>> Deploy(const TiersBenchOptions& o, bool priority) {
  auto d = std::make_unique<Deployment>();
  CMO_ASSIGN_OR_RETURN(ScopedTempDir tmp, ScopedTempDir::Make(o.work_dir));
  d->tmp.emplace(std::move(tmp));
  const std::string dir = d->tmp->path() + "/state";
  {
    CMO_ASSIGN_OR_RETURN(auto state, OpenControlState(dir, /*create=*/true, base::SystemClock()));
    const flags::ChangeContext ctx{"bench", "cmo bench tiers", "add", false};
    flags::Flag f;
    f.op = kOp;
    f.domain = kDomain;
    f.target.model = flags::Model::kEventual;
    CMO_RETURN_IF_ERROR(state->flags->Add(f, ctx).status());
    if (priority) {
      // The followers' scene: posts, and reads of replies and posts under both models.
      for (const auto& [op, domain, target] :
           {std::tuple{kPostOp, kPostDomain, "eventual"},
            std::tuple{"reply.read", kDomain, "consistent_prefix"},
            std::tuple{"post.read", kPostDomain, "consistent_prefix"},
            std::tuple{"reply.peek", kDomain, "eventual"},
            std::tuple{"post.peek", kPostDomain, "eventual"}}) {
        flags::Flag g;
        g.op = op;
        g.domain = domain;
        CMO_ASSIGN_OR_RETURN(g.target, flags::ParseTarget(target));
        CMO_RETURN_IF_ERROR(state->flags->Add(g, ctx).status());
        if (g.op == kPostOp) continue;  // writes: the stage does not matter
        CMO_RETURN_IF_ERROR(state->flags
                                ->Update(g.op, ctx,
                                         [](flags::Flag& h) {
                                           h.stage = flags::Stage::kEventual;
                                           h.ramp_bp = 10'000;
                                           return absl::OkStatus();
                                         })
                                .status());
      }
      flags::Tier t;
      t.name = "super_users";
      t.target = {flags::Model::kBoundedStaleness, absl::Seconds(1)};
      t.ops = {kOp};
      t.subjects = {kCelebrity};
      t.priority = true;
      CMO_RETURN_IF_ERROR(flags::ReplaceTiers(*state->flags, "bench", {t}, ctx).status());
    }
  }
  ServeConfig config;
  config.state_dir = dir;
  for (int r = 0; r < o.regions; ++r) config.regions.push_back(base::StrCat("region-", r));
  if (priority) config.applier.simulated_bulk_delay = o.backlog;
  CMO_ASSIGN_OR_RETURN(d->server, Server::Start(config, base::SystemClock()));
  shadow::ClientConfig cc;
  cc.state_dir = dir;
  cc.region = config.regions[0];
  cc.synchronous_full = false;
  CMO_ASSIGN_OR_RETURN(d->client, shadow::Client::Open(cc));
  return d;
}

// Writes bulk_writes_per_s other users' changes until destroyed.
class BulkWriter {
 public:
  BulkWriter(shadow::Client& client, int per_s) {
    if (per_s == 0) return;
    thread_ = std::thread([this, &client, per_s] {
      const absl::Duration every = absl::Seconds(1) / per_s;
      absl::Time next = absl::Now();
      for (int64_t i = 0; !stop_.load(); ++i) {
        absl::StatusOr<shadow::WriteResult> w =
            client.Write(kOp, base::StrCat("user-", i % 10'000), base::StrCat("bulk-", i), "v");
        if (!w.ok()) {
          error_ = w.status();
          return;
        }
        ++written_;
        next += every;
        absl::SleepFor(next - absl::Now());
      }
    });
  }
  // Stops; the first write error, if any.
  absl::Status Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return error_;
  }
  ~BulkWriter() { Stop().IgnoreError(); }
  int64_t written() const { return written_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> written_{0};
  absl::Status error_;
  std::thread thread_;
};

// Waits until every region applied `priority` priority changes and everything written.
absl::Status CaughtUp(Deployment& d, int64_t priority, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::SleepFor(absl::Milliseconds(100));
    const int64_t last = d.server->relay_metrics().last_lsn;
    bool done = last > 0;
    for (const Server::RegionStatus& r : d.server->regions()) {
      done &= r.applier.priority_applied >= priority && r.watermark >= last;
    }
    if (done) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("the regions did not catch up with the writes");
    }
  }
}

}  // namespace

absl::StatusOr<nlohmann::json> RunPriorityScene(const TiersBenchOptions& o) {
  CMO_ASSIGN_OR_RETURN(std::unique_ptr<Deployment> d, Deploy(o, /*priority=*/true));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (d->client->evaluator().Decide(kOp, kCelebrity).tier == nullptr) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("the client never saw the priority tier's snapshot");
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  // A domain's first writes create its topics, which appliers find within a second: one write
  // on each channel first, so that what is measured is the steady state (the lag percentiles
  // then count one sample of that start, which a p99 over 100 or more leaves out).
  CMO_RETURN_IF_ERROR(d->client->Write(kPostOp, "user-0", "warm-up", "v").status());
  CMO_RETURN_IF_ERROR(d->client->Write(kOp, kCelebrity, "warm-up", "v").status());
  CMO_RETURN_IF_ERROR(CaughtUp(*d, 1, absl::Seconds(30)));
  BulkWriter bulk(*d->client, o.bulk_writes_per_s);
  // The celebrity answers ordinary users' posts: the posts replicate in bulk, the replies
  // through the priority channel, so the replies overtake the posts they answer. Followers
  // open a reply, then its post (carrying the token within the page), under each model.
  std::atomic<int> newest{-1};
  std::atomic<bool> reading{true};
  struct Pages {
    std::atomic<int64_t> pages{0}, before_post{0};
  };
  Pages eventual, prefix;
  absl::Status reader_error;
  std::thread reader([&] {
    std::mt19937 rng(7);
    for (int page = 0; reading.load(); ++page) {
      const int n = newest.load();
      if (n < 0) {
        absl::SleepFor(absl::Milliseconds(1));
        continue;
      }
      const bool consistent = page % 2 == 0;
      const std::string reply = base::StrCat("star-", std::max(0, n - static_cast<int>(rng() % 5)));
      absl::StatusOr<shadow::ReadResult> r =
          d->client->Read(consistent ? "reply.read" : "reply.peek", "follower", reply);
      if (!r.ok()) {
        reader_error = r.status();
        return;
      }
      if (!r->value.has_value()) continue;
      absl::StatusOr<shadow::ReadResult> p =
          d->client->Read(consistent ? "post.read" : "post.peek", "follower", *r->value, r->token);
      if (!p.ok()) {
        reader_error = p.status();
        return;
      }
      Pages& pages = consistent ? prefix : eventual;
      ++pages.pages;
      if (!p->value.has_value()) ++pages.before_post;
    }
  });
  absl::Cleanup stop_reader = [&] {
    reading = false;
    if (reader.joinable()) reader.join();
  };
  for (int i = 0; i < o.priority_writes; ++i) {
    const std::string post = base::StrCat("post-", i);
    CMO_ASSIGN_OR_RETURN(shadow::WriteResult written,
                         d->client->Write(kPostOp, base::StrCat("user-", i), post, "a post"));
    CMO_RETURN_IF_ERROR(d->client
                            ->Write(kOp, kCelebrity, base::StrCat("star-", i), post, "", {},
                                    /*depends_on=*/written.lsn)
                            .status());
    newest = i;
    absl::SleepFor(absl::Milliseconds(20));
  }
  CMO_RETURN_IF_ERROR(bulk.Stop());
  std::move(stop_reader).Invoke();
  CMO_RETURN_IF_ERROR(reader_error);
  // Until every region applied every priority write and the backlog drained.
  CMO_RETURN_IF_ERROR(CaughtUp(*d, o.priority_writes + 1, o.backlog + absl::Seconds(30)));
  absl::SleepFor(absl::Milliseconds(300));  // the regions' metrics are refreshed every 200 ms
  double priority_p50 = 0, priority_p99 = 0, bulk_p99 = 0;
  int64_t samples = INT64_MAX;
  for (const Server::RegionStatus& r : d->server->regions()) {
    priority_p50 = std::max(priority_p50, r.applier.priority_lag_p50_ms);
    priority_p99 = std::max(priority_p99, r.applier.priority_lag_p99_ms);
    bulk_p99 = std::max(bulk_p99, r.applier.bulk_lag_p99_ms);
    samples = std::min(samples, r.applier.priority_lag_samples);
  }
  CMO_RETURN_IF_ERROR(d->server->error());
  return nlohmann::json{{"priority_lag_p50_ms", priority_p50},
                        {"priority_lag_p99_ms", priority_p99},
                        {"bulk_lag_p99_ms", bulk_p99},
                        {"priority_writes", o.priority_writes},
                        {"priority_lag_samples_min", samples},
                        {"bulk_writes_during_priority", bulk.written()},
                        {"backlog_ms", absl::ToInt64Milliseconds(o.backlog)},
                        {"follower_pages_eventual", eventual.pages.load()},
                        {"replies_before_posts_eventual", eventual.before_post.load()},
                        {"follower_pages_consistent_prefix", prefix.pages.load()},
                        {"replies_before_posts_consistent_prefix", prefix.before_post.load()}};
}

absl::StatusOr<nlohmann::json> RunTiersBench(const TiersBenchOptions& o) {
  if (o.regions < 1 || o.notifications < 1 || o.bulk_writes_per_s < 0 || o.priority_writes < 1 ||
      o.backlog < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--regions, --notifications and --priority-writes must be at least 1, "
        "--bulk-writes-per-s and --backlog at least 0");
  }
  CMO_ASSIGN_OR_RETURN(nlohmann::json report, RunPriorityScene(o));
  CMO_ASSIGN_OR_RETURN(std::unique_ptr<Deployment> d, Deploy(o, /*priority=*/false));
  shadow::Client* client = d->client.get();
  BulkWriter bulk(*client, o.bulk_writes_per_s);
  std::vector<double> delays_ms;
  for (int i = 0; i < o.notifications; ++i) {
    const auto start = BenchClock::now();
    CMO_ASSIGN_OR_RETURN(shadow::WriteResult w,
                         client->Write(kOp, kCelebrity, base::StrCat("reply-", i), "hello"));
    CMO_RETURN_IF_ERROR(client->WaitConverged(w.token, absl::Seconds(30)));
    delays_ms.push_back(Seconds(BenchClock::now() - start) * 1000);
    absl::SleepFor(absl::Milliseconds(10));  // notifications apart, not back to back
  }
  CMO_RETURN_IF_ERROR(bulk.Stop());
  CMO_RETURN_IF_ERROR(d->server->error());
  report["notify_delay_p50_ms"] = Percentile(delays_ms, 0.50);
  report["notify_delay_p99_ms"] = Percentile(delays_ms, 0.99);
  report["notify_delay_max_ms"] = Percentile(delays_ms, 1.0);
  report["notifications"] = o.notifications;
  report["regions"] = o.regions;
  report["bulk_writes_per_s"] = o.bulk_writes_per_s;
  report["bulk_writes"] = bulk.written();
  return report;
}

}  // namespace cmo::orchestrator
