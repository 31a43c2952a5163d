// Real child processes for tests: run a command to completion capturing its output, or keep one
// running to talk to it over pipes and kill -9 it. Fault tests use these, never threads.
#ifndef CMO_TESTS_FAKES_SUBPROCESS_H_
#define CMO_TESTS_FAKES_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace cmo::testing {

struct RunResult {
  int exit_code = -1;  // -SIGNAL if killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with `env` added to the environment; returns when it exits.
RunResult Run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

// A running child with its stdin and stdout on pipes. Kills (SIGKILL) and reaps it if still
// running when destroyed. Not thread-safe.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Next line of stdout without the newline; nullopt at end of file.
  std::optional<std::string> ReadLine();
  void Kill(int signal);
  // Waits for exit; returns the exit code, or -signal if killed by a signal.
  int Wait();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  bool reaped_ = false;
};

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_SUBPROCESS_H_
