#include "base/time_text.h"

namespace cmo::base {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

bool ParseRfc3339(std::string_view text, absl::Time* out) {
  std::string err;
  return absl::ParseTime(absl::RFC3339_full, std::string(text), out, &err);
}

}  // namespace cmo::base
