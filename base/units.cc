#include "base/units.h"

#include <cctype>
#include <cstdint>

#include "absl/strings/str_format.h"
#include "base/strings.h"

namespace cmo::base {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Parses "123", "12.5", "0.25" as a fixed-point number with `scale_digits` decimals.
// Returns false on anything else (signs, exponents, spaces, too many decimals).
bool ParseFixedPoint(std::string_view s, int scale_digits, int64_t* out) {
  if (s.empty()) return false;
  int64_t whole = 0;
  size_t i = 0;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
    whole = whole * 10 + (s[i] - '0');
    if (whole > (int64_t{1} << 40)) return false;
  }
  if (i == 0) return false;
  int64_t frac = 0;
  int frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i == s.size()) return false;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
      if (++frac_digits > scale_digits) return false;
      frac = frac * 10 + (s[i] - '0');
    }
  }
  if (i != s.size()) return false;
  for (int d = frac_digits; d < scale_digits; ++d) frac *= 10;
  int64_t scale = 1;
  for (int d = 0; d < scale_digits; ++d) scale *= 10;
  *out = whole * scale + frac;
  return true;
}

}  // namespace

absl::StatusOr<int32_t> ParsePercentBp(std::string_view text) {
  std::string_view s = Trim(text);
  if (!s.empty() && s.back() == '%') s.remove_suffix(1);
  int64_t bp = 0;
  if (!ParseFixedPoint(s, 2, &bp)) {
    return absl::InvalidArgumentError(
        StrCat("\"", text, "\" is not a percentage; write a number from 0 to 100 with at most two ",
               "decimals, optionally followed by %, e.g. 10, 10% or 0.5%"));
  }
  if (bp > kMaxBasisPoints) {
    return absl::InvalidArgumentError(
        StrCat("\"", text, "\" is out of range; a percentage must be between 0% and 100%"));
  }
  return static_cast<int32_t>(bp);
}

absl::StatusOr<int64_t> ParsePercentPpm(std::string_view text) {
  std::string_view s = Trim(text);
  if (!s.empty() && s.back() == '%') s.remove_suffix(1);
  int64_t ppm = 0;
  if (!ParseFixedPoint(s, 4, &ppm)) {
    return absl::InvalidArgumentError(StrCat(
        "\"", text, "\" is not a percentage; write a number from 0 to 100 with at most four ",
        "decimals, optionally followed by %, e.g. 1%, 0.1% or 0.005%"));
  }
  if (ppm > 1'000'000) {
    return absl::InvalidArgumentError(
        StrCat("\"", text, "\" is out of range; a percentage must be between 0% and 100%"));
  }
  return ppm;
}

std::string FormatPpm(int64_t ppm) {
  std::string frac = std::to_string(ppm % 10000);
  frac.insert(0, 4 - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return frac.empty() ? StrCat(ppm / 10000, "%") : StrCat(ppm / 10000, ".", frac, "%");
}

std::string FormatBp(int32_t bp) {
  if (bp % 100 == 0) return StrCat(bp / 100, "%");
  if (bp % 10 == 0) return absl::StrFormat("%d.%d%%", bp / 100, (bp % 100) / 10);
  return absl::StrFormat("%d.%02d%%", bp / 100, bp % 100);
}

absl::StatusOr<absl::Duration> ParseDuration(std::string_view text) {
  std::string_view s = Trim(text);
  struct Unit {
    std::string_view suffix;
    int64_t ms;
  };
  // Longest suffix first so "ms" is not read as "m" + garbage.
  static constexpr Unit kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  for (const Unit& unit : kUnits) {
    if (s.size() <= unit.suffix.size() || !s.ends_with(unit.suffix)) continue;
    std::string_view number = s.substr(0, s.size() - unit.suffix.size());
    int64_t thousandths = 0;
    if (!ParseFixedPoint(number, 3, &thousandths)) break;
    // thousandths of a unit, in ms: thousandths * unit.ms / 1000, exact for every unit >= 1 s.
    if (unit.ms == 1) {
      if (thousandths % 1000 != 0) break;  // no fractional milliseconds
      return absl::Milliseconds(thousandths / 1000);
    }
    return absl::Milliseconds(thousandths * unit.ms / 1000);
  }
  return absl::InvalidArgumentError(
      StrCat("\"", text, "\" is not a duration; write a number with a unit: ms, s, m, h ",
             "or d, e.g. 500ms, 2s, 1.5s, 10m, 1h"));
}

std::string FormatDuration(absl::Duration d) {
  const int64_t ms = absl::ToInt64Milliseconds(d);
  if (ms != 0 && ms % 86'400'000 == 0) return StrCat(ms / 86'400'000, "d");
  if (ms != 0 && ms % 3'600'000 == 0) return StrCat(ms / 3'600'000, "h");
  if (ms != 0 && ms % 60'000 == 0) return StrCat(ms / 60'000, "m");
  if (ms % 1000 == 0) return StrCat(ms / 1000, "s");
  return StrCat(ms, "ms");
}

std::string HumanDuration(absl::Duration d) {
  int64_t ms = absl::ToInt64Milliseconds(d);
  if (ms < 1000 || ms % 1000 != 0) return StrCat(ms, "ms");
  int64_t s = ms / 1000;
  std::string out;
  for (auto [unit, secs] : {std::pair<const char*, int64_t>{"d", 86400}, {"h", 3600}, {"m", 60}}) {
    if (s >= secs) {
      out += StrCat(s / secs, unit);
      s %= secs;
    }
  }
  if (s > 0 || out.empty()) out += StrCat(s, "s");
  return out;
}

}  // namespace cmo::base
