// The one grammar for names that cross module and process boundaries — ops, domains, regions:
// 1 to 128 of [a-z0-9._-]. They become Kafka topic names (cmo.changes.<domain>), SQL values,
// metric labels and file names, so anything else is refused where the name first enters.
#ifndef CMO_BASE_NAMES_H_
#define CMO_BASE_NAMES_H_

#include <string_view>

#include "absl/status/status.h"
#include "base/strings.h"
#include "base/utf8.h"

namespace cmo::base {

inline constexpr size_t kMaxNameLength = 128;

// kInvalidArgument naming `kind` ("op name", "domain", "region") with an `example` otherwise.
inline absl::Status ValidateName(std::string_view kind, std::string_view name,
                                 std::string_view example) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(StrCat(kind, " \"", SanitizeUtf8(name.substr(0, 200)),
                                             "\" must be 1 to ", kMaxNameLength,
                                             " characters long"));
  }
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(StrCat(kind, " \"", SanitizeUtf8(name),
                                               "\" may contain only lowercase letters, digits, "
                                               "'.', '_' and '-', e.g. ",
                                               example));
    }
  }
  return absl::OkStatus();
}

}  // namespace cmo::base

#endif  // CMO_BASE_NAMES_H_
