// Faults of a real three-broker Apache Kafka cluster (replication factor 3, min.insync.replicas
// 2) under sustained write load through `cmo serve`: kill -9 of the broker leading the change
// partitions and its restart, a broker down for 30 s, a rolling restart of all three, a
// second applier of a region joining and leaving its consumer group, and one killed -9. Each fault
// reports how long after it the replicas' lag was back to normal (≤ 1 s, held for 2 s) and the
// worst lag (KAFKA_FAULT lines; docs/BENCHMARKS.md); the run ends with every replica equal to the
// primary, row by row (nothing lost, nothing applied twice). The cluster runs Kafka's
// defaults for failure detection (broker.session.timeout.ms 9 s).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>

#include "base/clock.h"
#include "base/strings.h"
#include "gtest/gtest.h"
#include "shadow/change_event.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/e2e/state_dir_stores.h"
#include "tests/fakes/kafka_cluster.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"

namespace cmo {
namespace {

using ::cmo::testing::Child;
using ::cmo::testing::WaitFor;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

const std::vector<std::string> kDomains = {"likes", "comments"};
const std::vector<std::string> kRegions = {"eu-west", "us-east"};
constexpr auto kNormalLag = 1000ms;

// Samples the primary's last LSN and the replicas' lowest watermark every 50 ms; the lag at a
// moment is how long ago the primary was where the slowest replica is now.
class LagProbe {
 public:
  explicit LagProbe(const std::string& state) : state_(state) {
    thread_ = std::thread([this] { Run(); });
  }
  ~LagProbe() {
    stop_ = true;
    thread_.join();
  }

  // The lag now, in ms (-1 before the first sample).
  int64_t LagMs() {
    std::lock_guard<std::mutex> lock(mu_);
    return lag_ms_;
  }
  int64_t MaxLagSinceMs(SteadyClock::time_point since) {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t max = 0;
    for (const auto& [t, lag] : lags_) {
      if (t >= since) max = std::max(max, lag);
    }
    return max;
  }
  // What the probe saw last, for a failure message: whether the stores opened, the primary's
  // last LSN and each replica's watermark per domain.
  std::string Describe() {
    std::lock_guard<std::mutex> lock(mu_);
    return base::StrCat("probe: ", opened_ ? "stores open" : "stores NOT open", ", ", lags_.size(),
                        " samples, lag now ", lag_ms_,
                        " ms, last sample: ", last_sample_.empty() ? "none" : last_sample_);
  }
  // Waits until the lag has been normal for 2 s in a row; returns when that stretch began.
  std::optional<SteadyClock::time_point> AwaitNormal(std::chrono::seconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    std::optional<SteadyClock::time_point> normal_since;
    while (SteadyClock::now() < deadline) {
      const int64_t lag = LagMs();
      if (lag >= 0 && lag <= kNormalLag.count()) {
        if (!normal_since) normal_since = SteadyClock::now();
        if (SteadyClock::now() - *normal_since >= 2s) return normal_since;
      } else {
        normal_since.reset();
      }
      std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
  }

 private:
  void Run() {
    // The stores are opened while `cmo serve` and the writer may still be creating them (a
    // busy schema): retried until they open. Giving up silently left the lag at -1 and the test
    // failing with "never reached a normal lag" (seen once in a full run).
    absl::StatusOr<std::unique_ptr<store::PrimaryStore>> primary;
    std::vector<std::unique_ptr<store::ReplicaStore>> replicas;
    while (!stop_) {
      primary = store::PrimaryStore::Open(state_ + "/primary.db", base::SystemClock());
      replicas.clear();
      for (const std::string& r : kRegions) {
        auto replica = store::ReplicaStore::Open(state_ + "/replica-" + r + ".db");
        if (replica.ok()) replicas.push_back(*std::move(replica));
      }
      if (primary.ok() && replicas.size() == std::size(kRegions)) break;
      std::this_thread::sleep_for(100ms);
    }
    if (stop_) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      opened_ = true;
    }
    std::vector<std::pair<SteadyClock::time_point, int64_t>> history;  // primary's last LSN
    while (!stop_) {
      const auto now = SteadyClock::now();
      absl::StatusOr<int64_t> last = (*primary)->LastLsn();
      int64_t min = INT64_MAX;
      std::string sample = last.ok() ? base::StrCat("primary ", *last)
                                     : base::StrCat("primary: ", last.status().ToString());
      for (size_t r = 0; r < replicas.size(); ++r) {
        for (const std::string& d : kDomains) {
          absl::StatusOr<int64_t> w = replicas[r]->TopicWatermark(shadow::ChangeTopic(d));
          min = std::min(min, w.ok() ? *w : 0);
          base::StrAppend(&sample, ", ", kRegions[r], "/", d, " ",
                          w.ok() ? std::to_string(*w) : w.status().ToString());
          if (w.ok() && *w == 0) {
            // Held at 0: how many partitions the replica records for the topic, how many of
            // them it has applied anything from.
            absl::StatusOr<int> n = replicas[r]->TopicPartitions(shadow::ChangeTopic(d));
            absl::StatusOr<std::vector<store::PartitionProgress>> seen = replicas[r]->Progress();
            base::StrAppend(&sample, " (", n.ok() ? *n : -1, " partitions recorded, seen:");
            for (const store::PartitionProgress& p :
                 seen.value_or(std::vector<store::PartitionProgress>{})) {
              if (p.topic == shadow::ChangeTopic(d)) base::StrAppend(&sample, " ", p.partition);
            }
            sample += ")";
          }
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_sample_ = std::move(sample);
      }
      if (last.ok()) {
        history.emplace_back(now, *last);
        // The first moment the primary had gone past what the slowest replica has now.
        int64_t lag = 0;
        for (const auto& [t, lsn] : history) {
          if (lsn > min) {
            lag = std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count();
            break;
          }
        }
        std::lock_guard<std::mutex> lock(mu_);
        lag_ms_ = lag;
        lags_.emplace_back(now, lag);
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  const std::string state_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  int64_t lag_ms_ = -1;
  bool opened_ = false;
  std::string last_sample_;
  std::vector<std::pair<SteadyClock::time_point, int64_t>> lags_;
  std::thread thread_;
};

// A `cmo serve` whose output is read on a thread as it comes: unread, its status lines would
// fill the pipe after a few minutes and block the process. Keeps the last lines for failure
// messages and how many changes its eu-west applier has applied.
class ServeProcess {
 public:
  explicit ServeProcess(const std::vector<std::string>& argv)
      : child_(std::make_unique<Child>(argv)) {
    reader_ = std::thread([this] {
      static const std::regex kApplied("eu-west=\\d+ \\(applied (\\d+)");
      std::optional<std::string> line;
      std::smatch m;
      while ((line = child_->ReadLine()).has_value()) {
        if (std::regex_search(*line, m, kApplied)) applied_ = std::stoll(m[1]);
        std::lock_guard<std::mutex> lock(mu_);
        tail_.push_back(*line);
        if (tail_.size() > 8) tail_.pop_front();
      }
    });
  }
  ~ServeProcess() {
    if (reader_.joinable()) Stop(SIGKILL);
  }
  // Sends `signal`; returns how the process ended.
  int Stop(int signal) {
    child_->Kill(signal);
    const int code = child_->Wait();
    reader_.join();
    return code;
  }
  int64_t applied() const { return applied_; }
  // Its last lines of output, one per line, for a failure message.
  std::string Tail() {
    std::lock_guard<std::mutex> lock(mu_);
    return base::StrCat("last lines of cmo serve:\n  ", base::StrJoin(tail_, "\n  "));
  }

 private:
  std::unique_ptr<Child> child_;
  std::atomic<int64_t> applied_{0};
  std::mutex mu_;
  std::deque<std::string> tail_;
  std::thread reader_;
};

class KafkaClusterFaultTest : public ::testing::Test {
 protected:
  std::string State() const { return dir_.File("state"); }

  std::vector<std::string> ServeArgv(const std::vector<std::string>& extra) const {
    std::vector<std::string> argv = {
        CMO_BINARY,          "--state-dir", State(), "serve", "--kafka", cluster_->bootstrap(),
        "--status-interval", "1s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  // The cluster's metadata of `topic`, as kcat lists it.
  std::string Metadata(const std::string& topic) {
    return ::cmo::testing::Run({"/usr/bin/kcat", "-b", cluster_->bootstrap(), "-L", "-t", topic})
        .out;
  }

  // The broker (1-based node) leading partition 0 of the likes change topic, from kcat.
  int LeaderOfLikes() {
    const std::string metadata = Metadata(shadow::ChangeTopic("likes"));
    std::smatch m;
    static const std::regex kLeader("partition 0, leader (\\d+)");
    return std::regex_search(metadata, m, kLeader) ? std::stoi(m[1]) : 0;
  }

  // Reports one fault, which began at `began` and whose last action (a restart, a leave)
  // returned now: how long after that the lag was normal again, and the worst lag since it
  // began.
  void Report(const std::string& fault, SteadyClock::time_point began, LagProbe& probe) {
    const auto ended = SteadyClock::now();
    const std::optional<SteadyClock::time_point> normal = probe.AwaitNormal(120s);
    ASSERT_TRUE(normal.has_value()) << fault << ": lag not back to normal within 120 s\n"
                                    << probe.Describe() << "\n"
                                    << serve_->Tail();
    const auto ms = [](SteadyClock::duration d) {
      return static_cast<long long>(
          std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
    };
    const long long recovered = ms(*normal - ended);
    const long long max_lag = probe.MaxLagSinceMs(began);
    std::printf(
        "KAFKA_FAULT %s: fault lasted %lld ms; lag normal (<= 1 s) %lld ms after it "
        "ended; max lag %lld ms\n",
        fault.c_str(), ms(ended - began), recovered, max_lag);
    std::fflush(stdout);
    RecordProperty(fault + "_recovered_ms", std::to_string(recovered));
    RecordProperty(fault + "_max_lag_ms", std::to_string(max_lag));
  }

  // A second `cmo serve --role applier` of eu-west, in the first one's consumer group.
  std::unique_ptr<ServeProcess> SecondApplier() {
    return std::make_unique<ServeProcess>(ServeArgv({"--role", "applier", "--regions", "eu-west"}));
  }

  ::cmo::testing::TempDir dir_;
  std::unique_ptr<::cmo::testing::KafkaCluster> cluster_;
  std::unique_ptr<ServeProcess> serve_;  // the one running everything
};

TEST_F(KafkaClusterFaultTest, BrokerFaultsAndRebalancesUnderLoadLoseNothing) {
  auto cluster = ::cmo::testing::KafkaCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  cluster_ = *std::move(cluster);
  std::filesystem::create_directories(State());
  serve_ = std::make_unique<ServeProcess>(ServeArgv({"--listen", "off"}));
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(State() + "/kafka.bootstrap"); }, 60s));
  // 2,000 changes/s until the faults are over; its "W <lsn>" lines drained on a thread.
  Child writer({CMO_WRITER, State() + "/primary.db", "100000000", "50", "40", "5000"});
  std::thread drain([&] {
    while (writer.ReadLine().has_value()) {
    }
  });
  // However the test ends (an assertion returns early), the writer stops and its reader ends.
  struct StopWriter {
    Child& writer;
    std::thread& drain;
    ~StopWriter() {
      writer.Kill(SIGTERM);
      if (drain.joinable()) drain.join();
    }
  } stop_writer{writer, drain};
  ASSERT_TRUE(
      WaitFor([&] { return std::filesystem::exists(State() + "/replica-us-east.db"); }, 60s));
  LagProbe probe(State());
  ASSERT_TRUE(probe.AwaitNormal(120s).has_value()) << "never reached a normal lag before faults\n"
                                                   << probe.Describe() << "\n"
                                                   << serve_->Tail() << "\n"
                                                   << Metadata(shadow::ChangeTopic("likes"));
  const int rf_leader = LeaderOfLikes();
  ASSERT_GE(rf_leader, 1) << "no leader found for cmo.changes.likes";

  // 1. kill -9 of the broker leading the change partitions; restarted once the lag is back.
  auto began = SteadyClock::now();
  ASSERT_TRUE(cluster_->Kill(rf_leader, SIGKILL).ok());
  Report("leader_kill9", began, probe);
  began = SteadyClock::now();
  ASSERT_TRUE(cluster_->Restart(rf_leader).ok());
  Report("leader_restart", began, probe);

  // 2. A broker down for 30 s (stopped cleanly), then back.
  const int down = rf_leader % 3 + 1;
  began = SteadyClock::now();
  ASSERT_TRUE(cluster_->Kill(down, SIGTERM).ok());
  std::this_thread::sleep_for(30s);
  ASSERT_TRUE(cluster_->Restart(down).ok());
  Report("broker_down_30s", began, probe);

  // 3. A rolling restart of all three, one after the other.
  began = SteadyClock::now();
  for (int node = 1; node <= 3; ++node) {
    ASSERT_TRUE(cluster_->Kill(node, SIGTERM).ok());
    ASSERT_TRUE(cluster_->Restart(node).ok());
  }
  Report("rolling_restart", began, probe);

  // 4. A second applier of eu-west joins its consumer group mid-load (measured over the 10 s
  // after its start, the rebalance included), applies its share, then leaves.
  began = SteadyClock::now();
  auto second = SecondApplier();
  std::this_thread::sleep_for(10s);
  Report("applier_joins", began, probe);
  EXPECT_TRUE(WaitFor([&] { return second->applied() > 0; }, 30s))
      << "the second applier was given no partitions of eu-west";
  began = SteadyClock::now();
  EXPECT_EQ(second->Stop(SIGTERM), 0);
  Report("applier_leaves", began, probe);

  // 5. A second applier again, killed with SIGKILL mid-batch once it applies: the group gives
  // its partitions back only after the session timeout (6 s), and what it had not committed is
  // read again from the positions the replica holds.
  second = SecondApplier();
  ASSERT_TRUE(WaitFor([&] { return second->applied() > 0; }, 30s))
      << "the second applier was given no partitions of eu-west";
  began = SteadyClock::now();
  EXPECT_EQ(second->Stop(SIGKILL), -SIGKILL);
  Report("applier_kill9", began, probe);

  writer.Kill(SIGTERM);
  drain.join();
  ASSERT_TRUE(
      WaitFor([&] { return ::cmo::testing::Converged(State(), kRegions, kDomains); }, 120s, 250ms))
      << "replicas did not converge";
  EXPECT_EQ(serve_->Stop(SIGTERM), 0);
  ::cmo::testing::ExpectRowByRowEqual(State(), kRegions, kDomains);
}

}  // namespace
}  // namespace cmo
