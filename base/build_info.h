// What was built: the version and the git revision, for `cmo --version` and cmo_build_info.
#ifndef CMO_BASE_BUILD_INFO_H_
#define CMO_BASE_BUILD_INFO_H_

#include <string_view>

namespace cmo::base {

std::string_view BuildVersion();   // e.g. 0.9.0
std::string_view BuildRevision();  // the short git revision at configure time, or "unknown"

}  // namespace cmo::base

#endif  // CMO_BASE_BUILD_INFO_H_
