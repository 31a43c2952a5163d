#include "orchestrator/bench/bench_util.h"

#include <stdlib.h>

#include "base/strings.h"

namespace cmo::orchestrator {

absl::StatusOr<std::string> MakeTempDir(const std::string& parent) {
  std::string tmpl = base::StrCat(parent, "/cmo-bench-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::FailedPreconditionError(base::StrCat("cannot create a directory in ", parent));
  }
  return tmpl;
}

}  // namespace cmo::orchestrator
