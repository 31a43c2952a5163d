// How a row of an app's table becomes a change event's key and value, the same way whether it
// was read by the initial snapshot (SQL) or decoded from the slot (pgoutput): both see each
// column in its type's text form, so both produce the same bytes for the same row, and a
// replica's digests do not tell a snapshot row from a streamed one.
//   value: a JSON object of the row's columns in table order. Integers, floats and numerics
//          are JSON numbers (their exact text: 12345678901234567890.5 stays exact), booleans
//          true/false, json and jsonb embedded as they are, NULL null, every other type its
//          text form as a JSON string (timestamps, text, uuid, bytea as \x hex, ...). NaN and
//          Infinity are strings (JSON has no such numbers).
//   key:   one key column: its text form ("42", "3f2a..."); several: a JSON array of their
//          values as above ([7,"eu"]).
#ifndef CMO_SHADOW_CDC_ROW_H_
#define CMO_SHADOW_CDC_ROW_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cmo::shadow {

struct CdcColumnValue {
  std::string_view name;
  uint32_t type = 0;                     // pg_type OID
  std::optional<std::string_view> text;  // nullopt: NULL
};

// A column value as JSON text (see above).
std::string CdcJsonValue(uint32_t type, std::optional<std::string_view> text);
std::string CdcRowJson(const std::vector<CdcColumnValue>& columns);
// The key of the key columns' values, in the order the source names them.
std::string CdcKey(const std::vector<CdcColumnValue>& key_columns);

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_CDC_ROW_H_
