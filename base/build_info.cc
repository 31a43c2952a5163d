#include "base/build_info.h"

#ifndef CMO_VERSION
#define CMO_VERSION "unknown"
#endif
#ifndef CMO_GIT_REVISION
#define CMO_GIT_REVISION "unknown"
#endif

namespace cmo::base {

std::string_view BuildVersion() { return CMO_VERSION; }
std::string_view BuildRevision() { return CMO_GIT_REVISION; }

}  // namespace cmo::base
