// HTTP/1.1 requests and responses as cmo's API server sees them, and an incremental parser that
// bounds everything it reads: request line and headers together, the body with or without
// Content-Length (chunked included), and the text it hands on (path and query are
// percent-decoded and must be UTF-8). Bytes from the network go through here first, so it is
// fuzzed (tests/fuzz/http_request_fuzz.cc).
#ifndef CMO_ORCHESTRATOR_API_HTTP_REQUEST_PARSER_H_
#define CMO_ORCHESTRATOR_API_HTTP_REQUEST_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cmo::orchestrator::http {

struct Request {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // percent-decoded, valid UTF-8
  std::map<std::string, std::string> query;  // decoded; a repeated key keeps its last value
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_addr;
  bool keep_alive = true;
  bool expect_continue = false;

  // The first header named `name` (lower-case), or "".
  std::string_view Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // close the connection after this response
};

// "HTTP/1.1 404 Not Found\r\n..." with Content-Length and Connection.
std::string SerializeResponse(const Response& res, bool keep_alive);
const char* ReasonPhrase(int status);

struct ParserLimits {
  size_t max_header_bytes = 16 * 1024;  // request line + headers
  size_t max_body_bytes = 1 << 20;      // after de-chunking
};

// Not thread-safe; one per connection, Reset() between requests.
class RequestParser {
 public:
  enum class State {
    kHead,      // reading the request line and headers
    kBody,      // headers complete (request() has them), reading the body
    kComplete,  // request() is whole
    kError,     // error_status() / error_message() say why; the connection must close
  };

  explicit RequestParser(ParserLimits limits) : limits_(limits) {}

  // Consumes bytes from `data`; returns how many were used (the rest belong to the next
  // request). Stops at the end of the headers, at the end of the request, and at an error, so
  // the caller can look at the headers before any body byte is taken.
  size_t Feed(std::string_view data);
  State state() const { return state_; }
  // Valid from kBody on; the body is whole at kComplete.
  Request& request() { return request_; }
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }
  // Bytes of the current request taken so far (0 = nothing of it has arrived yet).
  size_t consumed() const { return consumed_; }
  void Reset();

 private:
  enum class Chunk { kSize, kData, kDataEnd, kTrailer };
  size_t FeedHead(std::string_view data);
  size_t FeedBody(std::string_view data);
  size_t FeedChunked(std::string_view data);
  bool ParseHead();
  bool Fail(int status, std::string message);

  ParserLimits limits_;
  State state_ = State::kHead;
  Request request_;
  std::string head_;  // request line and headers, until the blank line
  std::string line_;  // a chunk-size or trailer line being assembled
  bool chunked_ = false;
  Chunk chunk_ = Chunk::kSize;
  uint64_t remaining_ = 0;  // body bytes (Content-Length) or bytes left of the current chunk
  size_t consumed_ = 0;
  int error_status_ = 0;
  std::string error_message_;
};

// Percent-decoding; `plus_is_space` for query strings. False on a malformed escape.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

}  // namespace cmo::orchestrator::http

#endif  // CMO_ORCHESTRATOR_API_HTTP_REQUEST_PARSER_H_
