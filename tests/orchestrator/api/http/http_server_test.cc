// The API's HTTP server on its own, under concurrency (runs under ThreadSanitizer): many
// clients at once on keep-alive connections, pipelined requests, early refusals from the
// header check, and Stop() while clients are connected.
#include "orchestrator/api/http/http_server.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/raw_http.h"

namespace cmo::orchestrator::http {
namespace {

using ::cmo::testing::RawConn;
using ::cmo::testing::StatusOf;
using ::testing::HasSubstr;

std::unique_ptr<HttpServer> Start(std::atomic<int>* handled) {
  ServerHandlers h;
  h.on_headers = [](const Request& req) -> std::optional<Response> {
    if (req.path == "/refuse") return ErrorResponse(401, "no");
    return std::nullopt;
  };
  h.inline_route = [](const Request& req) -> std::optional<Response> {
    if (req.path != "/inline") return std::nullopt;
    Response r;
    r.body = "inline";
    return r;
  };
  h.on_request = [handled](const Request& req) {
    handled->fetch_add(1);
    if (req.path == "/throw") throw std::runtime_error("boom");
    Response r;
    r.body = req.path + ":" + req.body;
    return r;
  };
  auto s = HttpServer::Start("127.0.0.1", 0, ServerLimits{}, std::move(h));
  EXPECT_TRUE(s.ok()) << s.status();
  return *std::move(s);
}

TEST(HttpServer, ManyKeepAliveClientsAtOnce) {
  std::atomic<int> handled{0};
  auto server = Start(&handled);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      RawConn c(server->port());
      for (int i = 0; i < 25; ++i) {
        const std::string body = std::to_string(t * 100 + i);
        c.Send("POST /echo HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body);
        // One response per request on the same connection.
        std::string got;
        while (got.find(":" + body) == std::string::npos && c.Readable(5000)) {
          char buf[4096];
          const ssize_t n = ::recv(c.fd(), buf, sizeof(buf), 0);
          if (n <= 0) break;
          got.append(buf, static_cast<size_t>(n));
        }
        if (StatusOf(got) == 200 && got.find("/echo:" + body) != std::string::npos) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(handled.load(), 200);
  EXPECT_EQ(server->stats().accepted, 8);
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  std::atomic<int> handled{0};
  auto server = Start(&handled);
  std::string many;
  for (int i = 0; i < 50; ++i) many += "GET /p" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
  many += "GET /last HTTP/1.1\r\nConnection: close\r\n\r\n";
  const std::string all = RawConn::Exchange(server->port(), many);
  size_t at = 0;
  for (int i = 0; i < 50; ++i) {
    const size_t next = all.find("/p" + std::to_string(i) + ":", at);
    ASSERT_NE(next, std::string::npos) << i;
    at = next;
  }
  EXPECT_THAT(all.substr(at), HasSubstr("/last:"));
}

TEST(HttpServer, EarlyRefusalsInlineAnswersAndHandlerExceptions) {
  std::atomic<int> handled{0};
  auto server = Start(&handled);
  const int port = server->port();
  EXPECT_EQ(
      StatusOf(RawConn::Exchange(port, "POST /refuse HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")),
      401);
  EXPECT_THAT(RawConn::Exchange(port, "GET /inline HTTP/1.1\r\nConnection: close\r\n\r\n"),
              HasSubstr("inline"));
  const std::string thrown =
      RawConn::Exchange(port, "GET /throw HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(thrown), 500);
  EXPECT_THAT(thrown, HasSubstr("boom"));
  EXPECT_EQ(handled.load(), 1) << "refused and inline requests never reach a worker";
}

TEST(HttpServer, StopsWithClientsConnected) {
  std::atomic<int> handled{0};
  auto server = Start(&handled);
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 20; ++i) {
    conns.push_back(std::make_unique<RawConn>(server->port()));
    conns.back()->Send("GET /half");
  }
  std::thread busy([&] {
    for (int i = 0; i < 20; ++i) {
      RawConn::Exchange(server->port(), "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n", 200);
    }
  });
  server->Stop();
  busy.join();
  for (auto& c : conns) EXPECT_TRUE(c->Readable(2000)) << "closed by the server";
}

}  // namespace
}  // namespace cmo::orchestrator::http
