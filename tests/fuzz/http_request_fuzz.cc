// libFuzzer target for what an HTTP client controls: any bytes go through the request parser
// (fed in two pieces, as a network delivers them) and, when they make a request, through the
// API's request-to-call conversion, the handlers of a real control state (in a temp dir), the
// JSON response and its serialization. Nothing may throw or crash; every answer must be a valid
// HTTP response whose body is valid UTF-8.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/utf8.h"
#include "orchestrator/api/http/request_parser.h"
#include "orchestrator/api/internal/http_parts.h"
#include "orchestrator/api/local_api.h"

namespace {

cmo::orchestrator::LocalApi& Api() {
  static std::unique_ptr<cmo::orchestrator::LocalApi> api = [] {
    static char tmpl[] = "/tmp/cmo_http_fuzz_XXXXXX";
    const std::string dir = std::string(mkdtemp(tmpl)) + "/state";
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(tmpl, ec);
    });
    return std::make_unique<cmo::orchestrator::LocalApi>(dir, cmo::base::SystemClock());
  }();
  return *api;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cmo::orchestrator::http::RequestParser;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  RequestParser parser({.max_header_bytes = 4096, .max_body_bytes = 16384});
  const size_t split = size == 0 ? 0 : data[0] % (size + 1);
  size_t used = 0;
  for (std::string_view piece : {bytes.substr(0, split), bytes.substr(split)}) {
    while (!piece.empty() && parser.state() != RequestParser::State::kComplete &&
           parser.state() != RequestParser::State::kError) {
      const size_t n = parser.Feed(piece);
      if (n == 0) break;
      used += n;
      piece.remove_prefix(n);
    }
  }
  if (used > size) __builtin_trap();
  if (parser.state() == RequestParser::State::kError) {
    if (parser.error_status() < 400 || parser.error_status() > 599) __builtin_trap();
    return 0;
  }
  if (parser.state() != RequestParser::State::kComplete) return 0;
  const auto& req = parser.request();
  if (!cmo::base::IsValidUtf8(req.path)) __builtin_trap();
  auto call = cmo::orchestrator::api_internal::ToApiCall(req);
  cmo::orchestrator::http::Response res =
      call.ok() ? cmo::orchestrator::api_internal::ToResponse(Api().Call(*call))
                : cmo::orchestrator::api_internal::ToResponse(call.status());
  if (!cmo::base::IsValidUtf8(res.body)) __builtin_trap();
  const std::string wire = cmo::orchestrator::http::SerializeResponse(res, req.keep_alive);
  if (wire.rfind("HTTP/1.1 ", 0) != 0) __builtin_trap();
  return 0;
}
