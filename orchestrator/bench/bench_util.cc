#include "orchestrator/bench/bench_util.h"

#include <spawn.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "base/postgres.h"
#include "base/strings.h"

extern char** environ;

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

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (int rc = posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ); rc != 0) {
    return absl::InternalError(base::StrCat("cannot start ", args[0], ": ", strerror(rc)));
  }
  return pid;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

DropSchemas::~DropSchemas() {
  for (const std::string& url : urls) {
    if (auto db = base::PgConnection::Connect(url); db.ok()) {
      (void)(*db)->ExecScript(base::StrCat("DROP SCHEMA IF EXISTS ", schema, " CASCADE"));
    }
  }
}

}  // namespace cmo::orchestrator
