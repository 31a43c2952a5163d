// libFuzzer target for the session-token decoder: tokens come from cookies and headers, i.e.
// from anyone. Any bytes must decode to a token or an error, and a token that decodes must
// re-encode to the same LSN — to exactly the same text when it is in the format the encoder
// writes for that LSN (older v1 tokens of small LSNs are re-encoded shorter, as v2).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shadow/session_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto token = cmo::shadow::DecodeToken(text);
  if (!token.ok() || text.empty()) return 0;
  const std::string again = cmo::shadow::EncodeToken(*token);
  if (again.size() == text.size() && again != text) __builtin_trap();
  const auto redecoded = cmo::shadow::DecodeToken(again);
  if (!redecoded.ok() || redecoded->lsn != token->lsn) __builtin_trap();
  return 0;
}
