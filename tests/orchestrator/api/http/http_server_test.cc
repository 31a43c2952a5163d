// The API's HTTP server on its own, under concurrency (runs under ThreadSanitizer): many
// clients at once on keep-alive connections, pipelined requests, early refusals from the
// header check, Stop() while clients are connected, and the same over HTTPS.
#include "orchestrator/api/http/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/raw_http.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/tls_cert.h"

namespace cmo::orchestrator::http {
namespace {

using ::cmo::testing::RawConn;
using ::cmo::testing::StatusOf;
using ::testing::HasSubstr;

std::unique_ptr<HttpServer> Start(std::atomic<int>* handled, const TlsFiles& tls = {}) {
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
  auto s = HttpServer::Start("127.0.0.1", 0, ServerLimits{}, std::move(h), tls);
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

// Sends a ClientHello, then resets the connection: the server's answer meets a closed socket.
void AbortHandshake(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  (void)SSL_connect(ssl);  // writes the ClientHello, then would wait for the answer
  ERR_clear_error();
  linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  ::close(fd);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
}

// HTTPS: many clients at once verify the server's certificate and get answers; a client that
// hangs up in the middle of the handshake (once a SIGPIPE that killed the process) or speaks
// plain HTTP to it changes nothing for the others; files that do not load are named.
TEST(HttpServer, ServesHttpsToManyClientsAndSurvivesBrokenHandshakes) {
  ::cmo::testing::TempDir dir;
  const std::string cert = dir.File("cert.pem"), key = dir.File("key.pem");
  ASSERT_TRUE(::cmo::testing::WriteSelfSignedCert(cert, key).ok());
  std::atomic<int> handled{0};
  auto server = Start(&handled, {cert, key});
  const std::string url = "https://127.0.0.1:" + std::to_string(server->port());
  // Hang-ups mid-handshake (the server's answer may or may not meet the reset: many), and
  // plain HTTP on the TLS port.
  for (int i = 0; i < 200; ++i) AbortHandshake(server->port());
  for (int i = 0; i < 10; ++i) {
    RawConn::Exchange(server->port(), "GET /plain HTTP/1.1\r\nConnection: close\r\n\r\n", 200);
  }
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      httplib::Client client(url);
      client.set_ca_cert_path(cert.c_str());
      client.enable_server_certificate_verification(true);
      client.set_keep_alive(true);
      for (int i = 0; i < 25; ++i) {
        const std::string body(static_cast<size_t>(1 + (i * 7919) % 40000), 'x');
        auto r = client.Post("/echo-" + std::to_string(t), body, "text/plain");
        if (r && r->status == 200 && r->body == "/echo-" + std::to_string(t) + ":" + body) ++ok;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 100);
  // A client that does not trust the certificate gets no answer.
  httplib::Client untrusting(url);
  untrusting.enable_server_certificate_verification(true);
  untrusting.set_ca_cert_path(dir.File("nothing.pem").c_str());
  EXPECT_FALSE(untrusting.Get("/x"));
  EXPECT_EQ(handled.load(), 100) << "plain HTTP and broken handshakes never reach a worker";
  auto bad = HttpServer::Start("127.0.0.1", 0, ServerLimits{}, ServerHandlers{}, {cert, cert});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("cannot load the private key"));
  auto missing = HttpServer::Start("127.0.0.1", 0, ServerLimits{}, ServerHandlers{},
                                   {dir.File("none.pem"), key});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("none.pem"));
}

}  // namespace
}  // namespace cmo::orchestrator::http
