// libFuzzer target for flag snapshots as they arrive on cmo.flags: any bytes decode to a
// snapshot or an error (never a crash), a snapshot re-encodes to one with the same revision,
// flags and support overrides, and routing a subject an override names never crashes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/time/clock.h"
#include "flags/flag_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto snap = cmo::flags::DecodeSnapshot(text);
  if (!snap.ok()) return 0;
  const auto again =
      cmo::flags::DecodeSnapshot(cmo::flags::EncodeSnapshot(**snap, absl::UnixEpoch()));
  if (!again.ok()) __builtin_trap();
  if ((*again)->revision() != (*snap)->revision()) __builtin_trap();
  if ((*again)->flags().size() != (*snap)->flags().size()) __builtin_trap();
  if ((*again)->overrides().size() != (*snap)->overrides().size()) __builtin_trap();
  // Routing with the overrides, whatever they say, never crashes.
  for (const cmo::flags::Flag& f : (*snap)->flags()) {
    for (const cmo::flags::Override& o : (*snap)->overrides())
      (void)(*snap)->Route(f.op, o.subject);
  }
  return 0;
}
