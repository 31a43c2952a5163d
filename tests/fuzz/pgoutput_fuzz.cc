// libFuzzer target for the pgoutput decoder: its bytes come off the network from the source
// database. Any bytes must decode to a message or an error, never read past the input, and a
// decoded tuple never holds more values than its message had bytes for.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shadow/pgoutput.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto m = cmo::shadow::pgoutput::Decode(bytes);
  if (!m.ok()) return 0;
  // Each tuple value takes at least one byte; each relation column at least ten.
  if (m->new_tuple.size() + m->old_tuple.size() > size) __builtin_trap();
  if (m->relation.columns.size() * 10 > size) __builtin_trap();
  return 0;
}
