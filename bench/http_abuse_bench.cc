// End-to-end driver: how fast `cmo serve`'s API answers /healthz while it is attacked the way
// the security review attacked it — 50 slow-loris connections (one header byte every 200 ms
// each), 40 idle connections and chunked uploads of up to 1 GiB one after another (each cut
// at the 1 MiB body limit) — against the same measurement with no attack.
//   build/bench/http_abuse_bench [--requests N]
// Prints one JSON object: healthz latency p50/p99/max in ms, quiet and under attack.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "orchestrator/api/api_server.h"
#include "tests/fakes/raw_http.h"

namespace {

using cmo::testing::RawConn;

struct Latency {
  double p50 = 0, p99 = 0, max = 0;
  int failed = 0;
};

Latency Measure(int port, int requests) {
  std::vector<double> ms;
  Latency out;
  for (int i = 0; i < requests; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string r = RawConn::Exchange(
        port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 10000);
    const auto t1 = std::chrono::steady_clock::now();
    if (cmo::testing::StatusOf(r) != 200) ++out.failed;
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::sort(ms.begin(), ms.end());
  out.p50 = ms[ms.size() / 2];
  out.p99 = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  out.max = ms.back();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int requests = 200;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--requests") requests = std::atoi(argv[i + 1]);
  }
  char tmpl[] = "/tmp/cmo_http_bench_XXXXXX";
  const std::string dir = std::string(mkdtemp(tmpl)) + "/state";
  auto server = cmo::orchestrator::ApiServer::Start({.listen = "127.0.0.1:0", .state_dir = dir},
                                                    cmo::base::SystemClock());
  if (!server.ok()) {
    std::fprintf(stderr, "http_abuse_bench: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string& url = (*server)->url();
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  std::string token;
  std::ifstream(cmo::orchestrator::TokenPath(dir)) >> token;

  const Latency quiet = Measure(port, requests);

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<RawConn>> idle, slow;
  for (int i = 0; i < 40; ++i) idle.push_back(std::make_unique<RawConn>(port));
  for (int i = 0; i < 50; ++i) slow.push_back(std::make_unique<RawConn>(port));
  std::thread loris([&] {
    const std::string head = "POST /v1/ops HTTP/1.1\r\nHost: x\r\nX-Padding: ";
    for (size_t i = 0; !stop; ++i) {
      for (auto& c : slow) c->Send(std::string_view(&head[i % head.size()], 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  std::atomic<int64_t> uploaded{0};
  std::thread upload([&] {
    const std::string chunk = "10000\r\n" + std::string(1 << 16, 'u') + "\r\n";
    while (!stop) {
      RawConn c(port);
      c.Send("POST /v1/ops HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
             "\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (int64_t sent = 0; !stop && sent < (int64_t{1} << 30) && c.Send(chunk);) {
        sent += 1 << 16;
        uploaded += 1 << 16;
      }
    }
  });
  const Latency attacked = Measure(port, requests);
  stop = true;
  loris.join();
  upload.join();
  std::printf(
      "{\"requests\": %d, \"quiet_p50_ms\": %.2f, \"quiet_p99_ms\": %.2f, \"quiet_max_ms\": %.2f, "
      "\"attacked_p50_ms\": %.2f, \"attacked_p99_ms\": %.2f, \"attacked_max_ms\": %.2f, "
      "\"failed\": %d, \"slow_connections\": 50, \"idle_connections\": 40, "
      "\"upload_bytes_sent\": %lld}\n",
      requests, quiet.p50, quiet.p99, quiet.max, attacked.p50, attacked.p99, attacked.max,
      quiet.failed + attacked.failed, static_cast<long long>(uploaded.load()));
  server->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir.substr(0, dir.rfind('/')), ec);
  return attacked.failed == 0 ? 0 : 1;
}
