// The request parser bounds what it reads and refuses what it cannot hand on safely: the limits
// hold with and without Content-Length, text is UTF-8 once decoded, and feeding a request byte
// by byte gives the same result as feeding it whole.
#include "orchestrator/api/http/request_parser.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cmo::orchestrator::http {
namespace {

using State = RequestParser::State;
using ::testing::HasSubstr;

// Feeds until the parser stops taking bytes (it pauses at the end of the headers).
size_t FeedAll(RequestParser& p, std::string_view data) {
  size_t total = 0;
  while (total < data.size()) {
    const size_t n = p.Feed(data.substr(total));
    total += n;
    if (n == 0 || p.state() == State::kComplete || p.state() == State::kError) break;
  }
  return total;
}

ParserLimits Small() { return {.max_header_bytes = 1024, .max_body_bytes = 64}; }

TEST(RequestParser, ParsesAGetWithDecodedPathAndQuery) {
  RequestParser p(Small());
  const std::string raw =
      "GET /v1/ops/post.like/decide?subject=user%2042&x=a+b HTTP/1.1\r\nHost: h\r\n"
      "X-Cmo-Actor: alice\r\n\r\n";
  EXPECT_EQ(p.Feed(raw), raw.size());
  ASSERT_EQ(p.state(), State::kComplete);
  EXPECT_EQ(p.request().method, "GET");
  EXPECT_EQ(p.request().path, "/v1/ops/post.like/decide");
  EXPECT_EQ(p.request().query.at("subject"), "user 42");
  EXPECT_EQ(p.request().query.at("x"), "a b");
  EXPECT_EQ(p.request().Header("x-cmo-actor"), "alice");
  EXPECT_TRUE(p.request().keep_alive);
}

TEST(RequestParser, InvalidUtf8InPathOrQueryIs400) {
  for (const std::string target :
       {"/x%FF", "/v1/ops/%FF", "/v1/divergence?user=%FF", "/v1/ops/%C0%AF", "/a%00b", "/a%zz"}) {
    RequestParser p(Small());
    p.Feed("GET " + target + " HTTP/1.1\r\n\r\n");
    EXPECT_EQ(p.state(), State::kError) << target;
    EXPECT_EQ(p.error_status(), 400) << target;
  }
  RequestParser raw(Small());
  raw.Feed("GET /caf\xC3 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(raw.error_status(), 400) << "raw non-ASCII bytes in the target";
}

TEST(RequestParser, StopsAtTheEndOfTheHeadersSoTheyCanBeCheckedBeforeTheBody) {
  RequestParser p(Small());
  const std::string head = "POST /v1/ops HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
  EXPECT_EQ(p.Feed(head + "0123456789"), head.size());
  EXPECT_EQ(p.state(), State::kBody);
  EXPECT_EQ(p.request().body, "");
  EXPECT_EQ(p.Feed("0123456789GET"), 10u) << "the rest belongs to the next request";
  EXPECT_EQ(p.state(), State::kComplete);
  EXPECT_EQ(p.request().body, "0123456789");
}

TEST(RequestParser, ContentLengthOverTheLimitIsRefusedAtTheHeaders) {
  RequestParser p(Small());
  p.Feed("POST /v1/ops HTTP/1.1\r\nContent-Length: 65\r\n\r\n");
  EXPECT_EQ(p.state(), State::kError);
  EXPECT_EQ(p.error_status(), 413);
}

TEST(RequestParser, ChunkedBodiesAreBoundedToo) {
  RequestParser ok(Small());
  const std::string small =
      "POST /v1/ops HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  EXPECT_EQ(FeedAll(ok, small), small.size());
  ASSERT_EQ(ok.state(), State::kComplete) << ok.error_message();
  EXPECT_EQ(ok.request().body, "hello world");

  RequestParser big(Small());
  big.Feed("POST /v1/ops HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(big.state(), State::kBody);
  const std::string chunk = "20\r\n" + std::string(32, 'x') + "\r\n";
  big.Feed(chunk);
  big.Feed(chunk);
  EXPECT_EQ(big.state(), State::kBody) << "64 bytes: at the limit";
  big.Feed(chunk);
  EXPECT_EQ(big.state(), State::kError);
  EXPECT_EQ(big.error_status(), 413);
  EXPECT_LE(big.request().body.size(), 64u) << "nothing beyond the limit was kept";

  RequestParser huge(Small());
  FeedAll(huge, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n");
  EXPECT_EQ(huge.error_status(), 413);
  RequestParser overflow(Small());
  FeedAll(overflow,
          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n");
  EXPECT_EQ(overflow.error_status(), 400);
}

TEST(RequestParser, RefusesSmugglingAndOversizedHeaders) {
  RequestParser both(Small());
  both.Feed("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(both.error_status(), 400);
  RequestParser twice(Small());
  twice.Feed("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(twice.error_status(), 400);
  RequestParser gzip(Small());
  gzip.Feed("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  EXPECT_EQ(gzip.error_status(), 501);
  RequestParser big(Small());
  big.Feed("GET / HTTP/1.1\r\nX: " + std::string(2000, 'a'));
  EXPECT_EQ(big.state(), State::kError);
  EXPECT_EQ(big.error_status(), 431);
  RequestParser ctl(Small());
  ctl.Feed(
      "GET / HTTP/1.1\r\nX-Cmo-Actor: a\x01"
      "b\r\n\r\n");
  EXPECT_EQ(ctl.error_status(), 400);
  RequestParser version(Small());
  version.Feed("GET / HTTP/2.0\r\n\r\n");
  EXPECT_EQ(version.error_status(), 505);
  RequestParser neg(Small());
  neg.Feed("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
  EXPECT_EQ(neg.error_status(), 400);
  EXPECT_THAT(neg.error_message(), HasSubstr("Content-Length"));
}

TEST(RequestParser, ByteByByteEqualsWhole) {
  const std::string raw =
      "\r\nPOST /v1/ops/a%2Fb?q=1 HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: "
      "keep-alive\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  RequestParser whole(Small());
  EXPECT_EQ(FeedAll(whole, raw), raw.size());
  RequestParser bytes(Small());
  size_t used = 0;
  for (char c : raw) used += bytes.Feed(std::string_view(&c, 1));
  EXPECT_EQ(used, raw.size());
  ASSERT_EQ(whole.state(), State::kComplete);
  ASSERT_EQ(bytes.state(), State::kComplete);
  EXPECT_EQ(bytes.request().path, "/v1/ops/a/b");
  EXPECT_EQ(bytes.request().body, whole.request().body);
  EXPECT_EQ(bytes.request().body, "abc");
  EXPECT_TRUE(bytes.request().keep_alive);
}

TEST(RequestParser, ResponsesCarryLengthAndConnection) {
  Response r;
  r.status = 404;
  r.body = "{}";
  const std::string text = SerializeResponse(r, /*keep_alive=*/false);
  EXPECT_THAT(text, HasSubstr("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_THAT(text, HasSubstr("Content-Length: 2\r\n"));
  EXPECT_THAT(text, HasSubstr("Connection: close\r\n"));
}

}  // namespace
}  // namespace cmo::orchestrator::http
