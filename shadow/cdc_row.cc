#include "shadow/cdc_row.h"

#include "base/json.h"

namespace cmo::shadow {
namespace {

// pg_type OIDs (src/include/catalog/pg_type.dat) of the types written as JSON numbers, booleans
// or embedded JSON.
constexpr uint32_t kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kJson = 114,
                   kFloat4 = 700, kFloat8 = 701, kNumeric = 1700, kJsonb = 3802;

// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    const size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

}  // namespace

std::string CdcJsonValue(uint32_t type, std::optional<std::string_view> text) {
  if (!text.has_value()) return "null";
  switch (type) {
    case kBool:
      return *text == "t" ? "true" : "false";
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid:
    case kFloat4:
    case kFloat8:
    case kNumeric:
      if (IsJsonNumber(*text)) return std::string(*text);
      break;  // NaN, Infinity
    case kJson:
    case kJsonb:
      return std::string(*text);  // the server only stores valid JSON
    default:
      break;
  }
  return base::JsonText(nlohmann::json(std::string(*text)));
}

std::string CdcRowJson(const std::vector<CdcColumnValue>& columns) {
  std::string out = "{";
  for (const CdcColumnValue& c : columns) {
    if (out.size() > 1) out += ',';
    out += base::JsonText(nlohmann::json(std::string(c.name)));
    out += ':';
    out += CdcJsonValue(c.type, c.text);
  }
  out += '}';
  return out;
}

std::string CdcKey(const std::vector<CdcColumnValue>& key_columns) {
  if (key_columns.size() == 1 && key_columns[0].text.has_value()) {
    return std::string(*key_columns[0].text);
  }
  std::string out = "[";
  for (const CdcColumnValue& c : key_columns) {
    if (out.size() > 1) out += ',';
    out += CdcJsonValue(c.type, c.text);
  }
  out += ']';
  return out;
}

}  // namespace cmo::shadow
