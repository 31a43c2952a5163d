// libFuzzer target for the plan parser: any bytes must give a ParseResult (valid, or errors
// with positions) — never a crash, a leak, a hang or an uncaught exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "migrations/plan_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const cmo::migrations::ParseResult r =
      cmo::migrations::ParsePlan(std::string_view(reinterpret_cast<const char*>(data), size));
  for (const auto& d : r.errors) {
    // Every error must carry a position inside the file and a message.
    if (d.pos.line < 1 || d.pos.column < 1 || d.message.empty()) __builtin_trap();
  }
  return 0;
}
