#include "orchestrator/bench/bench_util.h"

#include <stdlib.h>

#include <filesystem>

#include "base/strings.h"

namespace cmo::orchestrator {

absl::StatusOr<ScopedTempDir> ScopedTempDir::Make(const std::string& parent) {
  std::string tmpl = base::StrCat(parent, "/cmo-bench-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::FailedPreconditionError(base::StrCat("cannot create a directory in ", parent));
  }
  return ScopedTempDir(std::move(tmpl));
}

ScopedTempDir::~ScopedTempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::Status RetryWhileBusy(const std::function<absl::Status()>& write, int attempts) {
  absl::Status s;
  for (int i = 0; i < attempts; ++i) {
    s = write();
    if (s.code() != absl::StatusCode::kUnavailable) return s;
  }
  return s;
}

}  // namespace cmo::orchestrator
