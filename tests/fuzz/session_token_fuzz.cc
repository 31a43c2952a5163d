// libFuzzer target for the session-token decoder: tokens come from cookies and headers, i.e.
// from anyone. Any bytes must decode to a token or an error, and a token that decodes must
// re-encode to exactly the same text (one spelling per token).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shadow/session_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto token = cmo::shadow::DecodeToken(text);
  if (token.ok() && !text.empty() && cmo::shadow::EncodeToken(*token) != text) __builtin_trap();
  return 0;
}
