// Differential libFuzzer target for change-event decoding: messages on change topics can come
// from any producer, and the applier reads them with a fast scanner that declines what it does
// not take to a general JSON parser. On every input the two must give the same answer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shadow/change_event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto fast = cmo::shadow::DecodeEvent(text);
  const auto full = cmo::shadow::DecodeEventInFull(text);
  if (fast.ok() != full.ok()) __builtin_trap();
  if (!fast.ok()) {
    if (fast.status() != full.status()) __builtin_trap();
    return 0;
  }
  if (fast->heartbeat != full->heartbeat || !(fast->row == full->row) ||
      fast->row.op != full->row.op || fast->row.subject != full->row.subject ||
      fast->sent != full->sent) {
    __builtin_trap();
  }
  return 0;
}
