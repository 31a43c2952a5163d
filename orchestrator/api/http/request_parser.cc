#include "orchestrator/api/http/request_parser.h"

#include <algorithm>
#include <cctype>

#include "base/strings.h"
#include "base/utf8.h"

namespace cmo::orchestrator::http {
namespace {

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// A header value: visible characters, spaces and tabs (RFC 9110 field-value), no CR/LF/NUL.
bool IsFieldValue(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char ch) {
    const unsigned char c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7F;
  });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Debian's Abseil has its own string_view, so these are spelled out for std::string_view.
std::vector<std::string_view> Split(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    if (at == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, at - start));
    start = at + sep.size();
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 417:
      return "Expectation Failed";
    case 414:
      return "URI Too Long";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

std::string SerializeResponse(const Response& res, bool keep_alive) {
  std::string out = base::StrCat("HTTP/1.1 ", res.status, " ", ReasonPhrase(res.status), "\r\n");
  base::StrAppend(&out, "Content-Type: ", res.content_type, "\r\n");
  base::StrAppend(&out, "Content-Length: ", res.body.size(), "\r\n");
  base::StrAppend(&out, "Connection: ", keep_alive && !res.close ? "keep-alive" : "close", "\r\n");
  base::StrAppend(&out, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
  for (const auto& [k, v] : res.headers) base::StrAppend(&out, k, ": ", v, "\r\n");
  out += "\r\n";
  out += res.body;
  return out;
}

void RequestParser::Reset() {
  state_ = State::kHead;
  request_ = Request();
  head_.clear();
  line_.clear();
  chunked_ = false;
  chunk_ = Chunk::kSize;
  remaining_ = 0;
  consumed_ = 0;
  error_status_ = 0;
  error_message_.clear();
}

bool RequestParser::Fail(int status, std::string message) {
  state_ = State::kError;
  error_status_ = status;
  error_message_ = std::move(message);
  return false;
}

size_t RequestParser::Feed(std::string_view data) {
  size_t used = 0;
  if (state_ == State::kHead) {
    used = FeedHead(data);
  } else if (state_ == State::kBody) {
    used = chunked_ ? FeedChunked(data) : FeedBody(data);
  }
  consumed_ += used;
  return used;
}

size_t RequestParser::FeedHead(std::string_view data) {
  // Blank lines before a request are allowed (RFC 9112 2.2) and not counted as a request.
  size_t skip = 0;
  if (head_.empty()) {
    while (skip < data.size() && (data[skip] == '\r' || data[skip] == '\n')) ++skip;
    data.remove_prefix(skip);
  }
  const size_t before = head_.size();
  // Only look for the end of the headers in what could still fit the limit.
  const size_t room = limits_.max_header_bytes + 4 - std::min(before, limits_.max_header_bytes + 4);
  head_.append(data.substr(0, room));
  const size_t search_from = before >= 3 ? before - 3 : 0;
  const size_t end = head_.find("\r\n\r\n", search_from);
  if (end == std::string::npos) {
    if (head_.size() > limits_.max_header_bytes) {
      Fail(431,
           base::StrCat("request line and headers exceed ", limits_.max_header_bytes, " bytes"));
    }
    return skip + (head_.size() - before);
  }
  if (end > limits_.max_header_bytes) {
    Fail(431, base::StrCat("request line and headers exceed ", limits_.max_header_bytes, " bytes"));
    return skip + (head_.size() - before);
  }
  const size_t taken = end + 4 - before;
  head_.resize(end);
  if (!ParseHead()) return skip + taken;
  if (chunked_) {
    state_ = State::kBody;
  } else if (remaining_ == 0) {
    state_ = State::kComplete;
  } else {
    state_ = State::kBody;
  }
  return skip + taken;
}

bool RequestParser::ParseHead() {
  std::vector<std::string_view> lines = Split(head_, "\r\n");
  const std::string_view request_line = lines[0];
  std::vector<std::string_view> parts = Split(request_line, " ");
  if (parts.size() != 3)
    return Fail(400, "malformed request line; expected METHOD TARGET HTTP/1.1");
  if (!IsToken(parts[0]) || parts[0].size() > 16) return Fail(400, "malformed request method");
  if (parts[2] != "HTTP/1.1" && parts[2] != "HTTP/1.0") {
    return Fail(505, "only HTTP/1.1 and HTTP/1.0 are served");
  }
  request_.method = std::string(parts[0]);
  request_.keep_alive = parts[2] == "HTTP/1.1";
  const std::string_view target = parts[1];
  if (target.empty() || target[0] != '/') return Fail(400, "request target must start with /");
  for (char ch : target) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F)
      return Fail(400, "request target holds a control or non-ASCII byte");
  }
  const size_t q = target.find('?');
  if (!PercentDecode(target.substr(0, q), /*plus_is_space=*/false, &request_.path)) {
    return Fail(400, "request path holds a malformed %-escape");
  }
  if (!base::IsPrintableUtf8(request_.path)) {
    return Fail(400, "request path is not printable UTF-8 once %-decoded");
  }
  if (q != std::string_view::npos) {
    for (std::string_view pair : Split(target.substr(q + 1), "&")) {
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      std::string key, value;
      if (!PercentDecode(pair.substr(0, eq), true, &key) ||
          (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, &value))) {
        return Fail(400, "query string holds a malformed %-escape");
      }
      if (!base::IsPrintableUtf8(key) || !base::IsPrintableUtf8(value)) {
        return Fail(400, "query parameter is not printable UTF-8 once %-decoded");
      }
      request_.query[std::move(key)] = std::move(value);
    }
  }
  bool has_length = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      return Fail(400, "malformed header line");
    }
    std::string name = Lower(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 1));
    if (!IsFieldValue(value)) return Fail(400, "header value holds a control character");
    if (request_.headers.size() >= 100) return Fail(431, "more than 100 header fields");
    if (name == "content-length") {
      uint64_t n = 0;
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return Fail(400, "Content-Length is not a number");
      }
      for (char c : value) n = n * 10 + static_cast<uint64_t>(c - '0');
      if (has_length && n != remaining_) return Fail(400, "conflicting Content-Length headers");
      has_length = true;
      remaining_ = n;
    } else if (name == "transfer-encoding") {
      if (Lower(value) != "chunked") {
        return Fail(501, "only Transfer-Encoding: chunked is supported");
      }
      chunked_ = true;
    } else if (name == "connection") {
      const std::string v = Lower(value);
      if (v.find("close") != std::string::npos) request_.keep_alive = false;
      if (v.find("keep-alive") != std::string::npos) request_.keep_alive = true;
    } else if (name == "expect") {
      if (Lower(value) != "100-continue") return Fail(417, "unsupported Expect");
      request_.expect_continue = true;
    }
    request_.headers.emplace_back(std::move(name), std::string(value));
  }
  // Both framings at once is how requests are smuggled past proxies (RFC 9112 6.3).
  if (chunked_ && has_length) return Fail(400, "both Content-Length and Transfer-Encoding");
  if (remaining_ > limits_.max_body_bytes) {
    return Fail(413, base::StrCat("request body larger than ", limits_.max_body_bytes, " bytes"));
  }
  return true;
}

size_t RequestParser::FeedBody(std::string_view data) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
  request_.body.append(data.substr(0, n));
  remaining_ -= n;
  if (remaining_ == 0) state_ = State::kComplete;
  return n;
}

size_t RequestParser::FeedChunked(std::string_view data) {
  constexpr size_t kMaxLine = 1024;  // chunk-size line with extensions, or one trailer line
  size_t i = 0;
  while (i < data.size() && state_ == State::kBody) {
    if (chunk_ == Chunk::kData) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - i));
      if (request_.body.size() + n > limits_.max_body_bytes) {
        Fail(413, base::StrCat("request body larger than ", limits_.max_body_bytes, " bytes"));
        return i;
      }
      request_.body.append(data.substr(i, n));
      remaining_ -= n;
      i += n;
      if (remaining_ == 0) chunk_ = Chunk::kDataEnd;
      continue;
    }
    const char c = data[i++];
    line_.push_back(c);
    if (line_.size() > kMaxLine) {
      Fail(400, "chunk-size or trailer line too long");
      return i;
    }
    if (c != '\n') continue;
    if (line_.size() < 2 || line_[line_.size() - 2] != '\r') {
      Fail(400, "chunked body: line not ended by CRLF");
      return i;
    }
    std::string_view line(line_.data(), line_.size() - 2);
    if (chunk_ == Chunk::kDataEnd) {
      if (!line.empty()) {
        Fail(400, "chunked body: chunk data longer than its size");
        return i;
      }
      chunk_ = Chunk::kSize;
    } else if (chunk_ == Chunk::kSize) {
      const std::string_view hex = Trim(line.substr(0, line.find(';')));
      if (hex.empty() || hex.size() > 15) {
        Fail(400, "chunked body: malformed chunk size");
        return i;
      }
      uint64_t size = 0;
      for (char h : hex) {
        const int d = HexDigit(h);
        if (d < 0) {
          Fail(400, "chunked body: malformed chunk size");
          return i;
        }
        size = size * 16 + static_cast<uint64_t>(d);
      }
      if (size > limits_.max_body_bytes) {
        Fail(413, base::StrCat("request body larger than ", limits_.max_body_bytes, " bytes"));
        return i;
      }
      remaining_ = size;
      chunk_ = size == 0 ? Chunk::kTrailer : Chunk::kData;
    } else {  // trailer section: ignored lines until a blank one
      if (line.empty()) state_ = State::kComplete;
    }
    line_.clear();
  }
  return i;
}

}  // namespace cmo::orchestrator::http
