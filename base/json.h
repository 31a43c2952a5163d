// JSON text that never throws. nlohmann::json::dump throws on strings that are not UTF-8; an
// exception there (outside any handler) has killed the server before, so every dump of data
// that came from outside goes through here: bytes that cannot be encoded become U+FFFD.
#ifndef CMO_BASE_JSON_H_
#define CMO_BASE_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

namespace cmo::base {

// `indent` < 0: compact, as nlohmann's dump().
inline std::string JsonText(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cmo::base

#endif  // CMO_BASE_JSON_H_
