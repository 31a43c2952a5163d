// Timestamps as the JSON cmo emits writes them: RFC 3339 in UTC with milliseconds
// (2026-12-07T00:50:00.123Z), whatever the endpoint, report or notification.
#ifndef CMO_BASE_TIME_TEXT_H_
#define CMO_BASE_TIME_TEXT_H_

#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace cmo::base {

std::string Rfc3339(absl::Time t);

// Any RFC 3339 time (zone offset or Z, optional fraction); false if `text` is not one.
bool ParseRfc3339(std::string_view text, absl::Time* out);

}  // namespace cmo::base

#endif  // CMO_BASE_TIME_TEXT_H_
