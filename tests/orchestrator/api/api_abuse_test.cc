// Hostile HTTP clients against a real `cmo serve` API server (issue: hardening): each attack of
// the security review is reproduced over a real socket and must leave the server answering,
// bounded in memory, and its audit log readable.
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "flags/flag_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/api/api_server.h"
#include "tests/fakes/raw_http.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::RawConn;
using ::cmo::testing::StatusOf;
using ::testing::HasSubstr;

int64_t RssBytes() {
  std::ifstream in("/proc/self/statm");
  int64_t pages = 0, rss = 0;
  in >> pages >> rss;
  return rss * ::sysconf(_SC_PAGESIZE);
}

class ApiAbuseTest : public ::testing::Test {
 protected:
  void Start(ApiServerOptions o = {}) {
    o.listen = "127.0.0.1:0";
    o.state_dir = state_;
    auto server = ApiServer::Start(o, base::SystemClock());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    port_ = std::stoi(server_->url().substr(server_->url().rfind(':') + 1));
    std::ifstream in(TokenPath(state_));
    std::getline(in, token_);
  }
  void SetUp() override { Start(); }

  std::string Get(const std::string& target, const std::string& headers = "") {
    return RawConn::Exchange(port_, "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers +
                                        "Connection: close\r\n\r\n");
  }
  std::string Post(const std::string& target, const std::string& body, const std::string& headers) {
    return RawConn::Exchange(port_, "POST " + target + " HTTP/1.1\r\nHost: x\r\n" + headers +
                                        "Content-Type: application/json\r\nContent-Length: " +
                                        std::to_string(body.size()) +
                                        "\r\nConnection: close\r\n\r\n" + body);
  }
  std::string Auth() { return "Authorization: Bearer " + token_ + "\r\n"; }

  // Milliseconds for one GET /healthz on a fresh connection; -1 if it failed.
  double HealthzMs() {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string r = Get("/healthz");
    const auto t1 = std::chrono::steady_clock::now();
    if (StatusOf(r) != 200) return -1;
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
  }

  int64_t Revision() {
    auto store = flags::FlagStore::Open(state_ + "/control.db", base::SystemClock());
    EXPECT_TRUE(store.ok()) << store.status();
    auto r = (*store)->Revision();
    return r.ok() ? *r : -1;
  }

  cmo::testing::TempDir dir_;
  std::string state_ = dir_.File("state");
  std::unique_ptr<ApiServer> server_;
  int port_ = 0;
  std::string token_;
};

// `curl "$URL/x%FF"` once killed the process (exit 134): JSON of a non-UTF-8 path threw.
TEST_F(ApiAbuseTest, NonUtf8PathsAndQueriesAre400AndTheServerLives) {
  for (const std::string target :
       {"/x%FF", "/v1/ops/%FF", "/v1/divergence?user=%FF", "/v1/ops/%ED%A0%80", "/%C0%AF"}) {
    const std::string r = Get(target);
    EXPECT_EQ(StatusOf(r), 400) << target << ": " << r;
    EXPECT_THAT(r, HasSubstr("UTF-8"));
  }
  EXPECT_EQ(StatusOf(Get("/v1/ops/no.such.op")), 404);
  EXPECT_GE(HealthzMs(), 0) << "still serving";
}

// A 300 MiB chunked POST without a token grew the server by 310 MB before its 401.
TEST_F(ApiAbuseTest, AnUnauthenticatedBodyIsNeverRead) {
  const int64_t rss0 = RssBytes();
  RawConn c(port_);
  ASSERT_TRUE(c.Send("POST /v1/ops HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(c.Readable(5000)) << "the 401 comes before any body byte";
  const std::string chunk = "100000\r\n" + std::string(1 << 20, 'x') + "\r\n";
  int64_t sent = 0;
  while (sent < (int64_t{300} << 20) && c.Send(chunk)) sent += 1 << 20;
  EXPECT_LT(sent, int64_t{64} << 20) << "the server closed the connection instead of reading";
  const std::string r = c.ReadAll(2000);
  EXPECT_EQ(StatusOf(r), 401) << r;
  EXPECT_LT(RssBytes() - rss0, int64_t{32} << 20);
}

TEST_F(ApiAbuseTest, AnAuthenticatedChunkedUploadStopsAtTheBodyLimit) {
  const int64_t rss0 = RssBytes();
  RawConn c(port_);
  ASSERT_TRUE(c.Send("POST /v1/ops HTTP/1.1\r\nHost: x\r\n" + Auth() +
                     "Transfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(1 << 16, 'x') + "\r\n";
  int64_t sent = 0;
  while (sent < (int64_t{1} << 30) && c.Send(chunk)) sent += 1 << 16;
  EXPECT_LT(sent, int64_t{64} << 20);
  const std::string r = c.ReadAll(2000);
  EXPECT_EQ(StatusOf(r), 413) << r;
  EXPECT_LT(RssBytes() - rss0, int64_t{32} << 20);
}

// Four clients at 1 byte/s made /healthz time out for 45 s; 40 idle connections likewise.
TEST_F(ApiAbuseTest, HealthzAnswersWhileSlowClientsAndAHugeUploadAreInFlight) {
  std::vector<std::unique_ptr<RawConn>> idle, slow;
  for (int i = 0; i < 40; ++i) idle.push_back(std::make_unique<RawConn>(port_));
  for (int i = 0; i < 50; ++i) slow.push_back(std::make_unique<RawConn>(port_));
  std::atomic<bool> stop{false};
  std::thread loris([&] {
    const std::string head = "POST /v1/ops HTTP/1.1\r\nHost: x\r\nX-Padding: ";
    for (size_t i = 0; !stop && i < 1000; ++i) {
      for (auto& c : slow) c->Send(std::string_view(&head[i % head.size()], 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  std::thread upload([&] {
    RawConn c(port_);
    c.Send("POST /v1/ops HTTP/1.1\r\nHost: x\r\n" + Auth() + "Transfer-Encoding: chunked\r\n\r\n");
    const std::string chunk = "10000\r\n" + std::string(1 << 16, 'u') + "\r\n";
    for (int64_t sent = 0; !stop && sent < (int64_t{1} << 30) && c.Send(chunk);) sent += 1 << 16;
  });
  double worst = 0;
  int answered = 0;
  for (int i = 0; i < 20; ++i) {
    const double ms = HealthzMs();
    if (ms >= 0) ++answered;
    worst = std::max(worst, ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  loris.join();
  upload.join();
  EXPECT_EQ(answered, 20);
  // The bound of the issue (100 ms) is measured by bench/http_abuse_bench; under sanitizers a
  // request takes longer, so this test only proves no request waits behind the attackers.
  EXPECT_LT(worst, 1000.0);
  RecordProperty("healthz_worst_ms", std::to_string(worst));
}

TEST_F(ApiAbuseTest, ASlowRequestGets408AtItsDeadline) {
  server_.reset();
  ApiServerOptions o;
  o.request_deadline = absl::Seconds(1);
  Start(o);
  RawConn c(port_);
  const std::string head = "GET /v1/ops HTTP/1.1\r\nHost: x\r\n";
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < head.size() && !c.Readable(); ++i) {
    c.Send(std::string_view(&head[i], 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string r = c.ReadAll(3000);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(StatusOf(r), 408) << r;
  EXPECT_LT(s, 3.5);
}

TEST_F(ApiAbuseTest, AConnectionFloodEvictsTheLongestReading) {
  server_.reset();
  ApiServerOptions o;
  o.max_connections = 20;
  Start(o);
  std::vector<std::unique_ptr<RawConn>> flood;
  for (int i = 0; i < 60; ++i) {
    flood.push_back(std::make_unique<RawConn>(port_));
    flood.back()->Send("G");
  }
  EXPECT_GE(HealthzMs(), 0);
  EXPECT_EQ(StatusOf(Get("/v1/ops")), 200);
}

// A non-UTF-8 X-Cmo-Actor or reason was stored and then broke every audit read for good.
TEST_F(ApiAbuseTest, NonUtf8ActorOrReasonIsRefusedBeforeItIsStored) {
  const std::string add = R"({"op":"post.like","domain":"likes","target":"eventual","reason":"r"})";
  EXPECT_EQ(StatusOf(Post("/v1/ops", add, Auth() + "X-Cmo-Actor: \xff\xfe\r\n")), 400);
  EXPECT_EQ(StatusOf(Post("/v1/ops",
                          R"({"op":"post.like","domain":"likes","target":"eventual","reason":")"
                          "\xff\"}",
                          Auth())),
            400);
  const std::string audit = Get("/v1/audit", Auth());
  EXPECT_EQ(StatusOf(audit), 200) << audit;
  EXPECT_EQ(StatusOf(Post("/v1/ops", add, Auth() + "X-Cmo-Actor: renée\r\n")), 200);
  EXPECT_THAT(Get("/v1/audit", Auth()), HasSubstr("renée"));
}

// Every refusal bumped the flags revision, so a flood made every client reload its flags.
TEST_F(ApiAbuseTest, RefusalsAreAuditedWithoutTakingARevision) {
  const int64_t before = Revision();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(StatusOf(Post("/v1/ops/x/pause", R"({"reason":"r"})", "")), 401);
  }
  // Denials are written off the I/O thread; wait for them to land.
  std::string audit;
  for (int i = 0; i < 100 && audit.find("auth.denied") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    audit = Get("/v1/audit?limit=100", Auth());
  }
  EXPECT_THAT(audit, HasSubstr("auth.denied"));
  EXPECT_EQ(Revision(), before);
}

// 2,000 loopback source addresses x 11 refused POSTs once wrote 10,252 auth.denied rows in
// 19 s. Here 300 addresses x 11 over real connections: every call is refused, at most 60 are
// logged (the global cap), and the log says how many were not.
TEST_F(ApiAbuseTest, RefusalsFromManyAddressesAreCappedInAll) {
  int refused = 0;
  for (int addr = 0; addr < 300; ++addr) {
    const std::string from =
        "127.0." + std::to_string(1 + addr / 200) + "." + std::to_string(1 + addr % 200);
    for (int i = 0; i < 11; ++i) {
      const std::string r =
          RawConn::Exchange(port_,
                            "POST /v1/ops/x/pause HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                            "Connection: close\r\n\r\n{}",
                            5000, from);
      refused += StatusOf(r) == 401;
    }
  }
  EXPECT_EQ(refused, 300 * 11);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // notices are written async
  auto store = flags::FlagStore::Open(state_ + "/control.db", base::SystemClock());
  ASSERT_TRUE(store.ok());
  auto history = (*store)->History(std::nullopt, 10000);
  ASSERT_TRUE(history.ok());
  EXPECT_LE(history->size(), 60u);
  EXPECT_GE(history->size(), 10u);
  // The next refusal, a minute later, would carry the count; the limiter's own test checks it.
}

// Rows stored before text was checked (an old release) must not break readers: JSON output
// replaces what it cannot encode instead of aborting.
TEST_F(ApiAbuseTest, OldNonUtf8AuditRowsStillRead) {
  {
    auto store = flags::FlagStore::Open(state_ + "/control.db", base::SystemClock());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)
                    ->RecordEvent("api", {"api:\xff\xfe", "reason \xc3", "legacy", false}, nullptr,
                                  {{"path", "/x\xff"}})
                    .ok());
  }
  const std::string audit = Get("/v1/audit", Auth());
  EXPECT_EQ(StatusOf(audit), 200) << audit;
  EXPECT_THAT(audit, HasSubstr("\xEF\xBF\xBD")) << "U+FFFD in place of the bad bytes";
  const auto cli =
      ::cmo::testing::Run({CMO_BINARY, "--state-dir", state_, "history", "--output", "json"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
}

}  // namespace
}  // namespace cmo::orchestrator
