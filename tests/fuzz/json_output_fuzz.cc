// libFuzzer target for JSON output of untrusted text: any bytes put in a JSON document encode
// without throwing (invalid UTF-8 becomes U+FFFD), the text parses back, and the UTF-8 helpers
// agree with each other.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/json.h"
#include "base/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const nlohmann::json doc = {{"path", bytes}, {"list", {bytes, 1, nullptr}}};
  const std::string text = cmo::base::JsonText(doc, size % 2 == 0 ? -1 : 2);
  if (!cmo::base::IsValidUtf8(text)) __builtin_trap();
  if (nlohmann::json::parse(text, nullptr, false).is_discarded()) __builtin_trap();
  const std::string clean = cmo::base::SanitizeUtf8(bytes);
  if (!cmo::base::IsValidUtf8(clean)) __builtin_trap();
  if (cmo::base::IsValidUtf8(bytes) != (clean == bytes)) __builtin_trap();
  return 0;
}
