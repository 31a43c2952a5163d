#include "orchestrator/service/executor_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/strings.h"

namespace cmo::orchestrator {

absl::StatusOr<std::unique_ptr<ExecutorLock>> ExecutorLock::Acquire(const std::string& state_dir,
                                                                    const std::string& holder) {
  const std::string path = state_dir + "/executor.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        base::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[256] = {};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          base::StrCat("cannot lock ", path, ": ", std::strerror(err)));
    }
    std::string who = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "another process";
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    return absl::FailedPreconditionError(base::StrCat(
        "the plan executor of state dir ", state_dir, " already runs in ", who,
        "; two executors would race on the same steps. Watch it with `cmo plan status`, or stop "
        "that process first"));
  }
  const std::string me = base::StrCat(holder, " (pid ", ::getpid(), ")\n");
  // The lock is held either way; the file only names the holder for the error above.
  const bool named = ::ftruncate(fd, 0) == 0 && ::pwrite(fd, me.data(), me.size(), 0) >= 0;
  (void)named;
  return std::unique_ptr<ExecutorLock>(new ExecutorLock(fd));
}

ExecutorLock::~ExecutorLock() { ::close(fd_); }

}  // namespace cmo::orchestrator
