// libFuzzer target for telemetry windows: anyone who can produce to cmo.telemetry controls
// these bytes (the signature check comes first in the control loop, but the decoder must hold
// on its own). Any bytes decode to a window or an error; a window re-encodes and decodes to
// itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/message_auth.h"
#include "shadow/telemetry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const auto keys = cmo::base::KeyRing::FromKeys({{"k1", std::string(32, 'k')}});
  (void)keys->Verify(text);
  const auto w = cmo::shadow::DecodeTelemetry(text);
  if (!w.ok()) return 0;
  const auto again = cmo::shadow::DecodeTelemetry(cmo::shadow::EncodeTelemetry(*w));
  if (!again.ok() || !(*again == *w)) __builtin_trap();
  const auto signed_again = keys->Verify(keys->Sign(cmo::shadow::EncodeTelemetry(*w)));
  if (!signed_again.ok()) __builtin_trap();
  return 0;
}
