// An app server of one region, for the multi-region test: runs in that region's network
// namespace (`ip netns exec`), links the client library, and drives sessions that write
// comments (strong), read them back on the eventual path (read-your-writes) and read them on
// the strong path, for --seconds. Writes every operation to --history as checker JSON lines
// and prints one JSON summary line: counts, read latency per path, failures by kind.
//   region_client --state-dir D --region R --primary-url U --replica-url U --seconds N
//                 --history FILE [--sessions 4] [--keys 32]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "shadow/client.h"
#include "tests/checker/history.h"

namespace {

struct Recorder {
  std::mutex mu;
  std::vector<cmo::checker::HistoryOp> ops;
  std::map<std::string, std::vector<double>> latency_ms;  // per path
  std::vector<int64_t> read_failures_ms;                  // unix ms of each failed read
  std::vector<int64_t> write_failures_ms;
  double write_fail_max_ms = 0;
  int64_t other_failures = 0;  // anything but kUnavailable
  std::string first_other;
  int64_t eventual = 0, fallbacks = 0;
  std::vector<std::string> slow_failures;  // failures that took over a second: why

  void Add(cmo::checker::HistoryOp op) {
    std::lock_guard<std::mutex> lock(mu);
    op.time = absl::ToUnixNanos(absl::Now());
    ops.push_back(std::move(op));
  }
  void Failed(const absl::Status& s, std::vector<int64_t>& when) {
    std::lock_guard<std::mutex> lock(mu);
    when.push_back(absl::ToUnixMillis(absl::Now()));
    if (!absl::IsUnavailable(s)) {
      if (other_failures++ == 0) first_other = s.ToString();
    }
  }
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  for (const char* required :
       {"--state-dir", "--region", "--primary-url", "--replica-url", "--seconds", "--history"}) {
    if (!args.contains(required)) {
      std::fprintf(stderr, "region_client: missing %s\n", required);
      return 2;
    }
  }
  const int sessions = args.contains("--sessions") ? std::stoi(args["--sessions"]) : 4;
  const int keys = args.contains("--keys") ? std::stoi(args["--keys"]) : 32;
  cmo::shadow::ClientConfig config;
  config.state_dir = args["--state-dir"];  // flags only: the stores are the URLs
  config.region = args["--region"];
  config.primary_url = args["--primary-url"];
  config.replica_url = args["--replica-url"];
  config.kafka_brokers = "none";
  config.max_wait = absl::Milliseconds(50);
  auto client = cmo::shadow::Client::Open(config);
  if (!client.ok()) {
    std::fprintf(stderr, "region_client: %s\n", client.status().ToString().c_str());
    return 1;
  }
  Recorder rec;
  const absl::Time end = absl::Now() + absl::Seconds(std::stoi(args["--seconds"]));
  std::vector<std::thread> threads;
  for (int p = 0; p < sessions; ++p) {
    threads.emplace_back([&, p] {
      std::mt19937 rng(static_cast<uint32_t>(p) * 7919 + 1);
      std::string token;
      const std::string subject = config.region + "-user-" + std::to_string(p);
      for (int i = 0; absl::Now() < end; ++i) {
        const std::string key = config.region + "-c-" + std::to_string(rng() % keys);
        const int kind = static_cast<int>(rng() % 3);
        if (kind == 0) {
          const std::string value = subject + "/" + std::to_string(i);
          rec.Add({p, "invoke", "write", key, value, 0, 0});
          const absl::Time start = absl::Now();
          auto w = (*client)->Write("comment.post", subject, key, value, token);
          if (!w.ok()) {
            rec.Failed(w.status(), rec.write_failures_ms);
            {
              const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
              std::lock_guard<std::mutex> lock(rec.mu);
              rec.write_fail_max_ms = std::max(rec.write_fail_max_ms, ms);
              if (ms > 1000 && rec.slow_failures.size() < 5) {
                rec.slow_failures.push_back(std::to_string(static_cast<int>(ms)) +
                                            " ms: " + w.status().ToString());
              }
            }
            rec.Add({p, "info", "write", key, value, 0, 0});
            absl::SleepFor(absl::Milliseconds(20));
            continue;
          }
          token = w->token;
          rec.Add({p, "ok", "write", key, value, w->lsn, 0});
          continue;
        }
        const char* op = kind == 1 ? "comment.read" : "comment.audit";
        rec.Add({p, "invoke", "read", key, "", 0, 0});
        const absl::Time start = absl::Now();
        auto r = (*client)->Read(op, subject, key, token);
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
        if (!r.ok()) {
          rec.Failed(r.status(), rec.read_failures_ms);
          rec.Add({p, "fail", "read", key, "", 0, 0});
          absl::SleepFor(absl::Milliseconds(20));
          continue;
        }
        token = r->token;
        {
          std::lock_guard<std::mutex> lock(rec.mu);
          if (r->path == cmo::flags::Path::kEventual) ++rec.eventual;
          if (r->fell_back) ++rec.fallbacks;
          // Latency per path as served: a fallback pays the strong path's round trip.
          rec.latency_ms[r->path == cmo::flags::Path::kEventual ? "eventual" : "strong"].push_back(
              ms);
        }
        rec.Add({p, "ok", "read", key, r->value.value_or(""), r->lsn, 0});
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::ofstream history(args["--history"]);
  for (const auto& op : rec.ops) history << cmo::checker::ToJsonLine(op) << "\n";
  nlohmann::json out = {{"region", config.region},
                        {"ops", rec.ops.size()},
                        {"eventual_served", rec.eventual},
                        {"fallbacks", rec.fallbacks},
                        {"read_failures_ms", rec.read_failures_ms},
                        {"write_failures_ms", rec.write_failures_ms},
                        {"write_fail_max_ms", rec.write_fail_max_ms},
                        {"other_failures", rec.other_failures},
                        {"first_other_failure", rec.first_other},
                        {"slow_failures", rec.slow_failures}};
  for (const auto& [path, v] : rec.latency_ms) {
    out[path + "_reads"] = v.size();
    out[path + "_p50_ms"] = Percentile(v, 0.5);
    out[path + "_p99_ms"] = Percentile(v, 0.99);
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
