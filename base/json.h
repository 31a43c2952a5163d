// JSON text that never throws. nlohmann::json::dump throws on strings that are not UTF-8; an
// exception there (outside any handler) has killed the server before, so every dump of data
// that came from outside goes through here: bytes that cannot be encoded become U+FFFD.
#ifndef CMO_BASE_JSON_H_
#define CMO_BASE_JSON_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace cmo::base {

// `indent` < 0: compact, as nlohmann's dump().
inline std::string JsonText(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

// `v` as a 64-bit integer, throwing std::out_of_range unless it is an integer that fits:
// nlohmann's get<int64_t>() casts a float or an unsigned above INT64_MAX instead (undefined
// behaviour for 8.9e26, found by the telemetry fuzzer). For decoders of untrusted JSON.
inline int64_t JsonInt(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) throw std::out_of_range("integer out of range");
    return static_cast<int64_t>(u);
  }
  if (!v.is_number_integer()) throw std::out_of_range("expected an integer");
  return v.get<int64_t>();
}

}  // namespace cmo::base

#endif  // CMO_BASE_JSON_H_
