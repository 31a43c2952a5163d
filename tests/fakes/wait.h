// Waiting on a condition with a deadline, for tests that drive real processes.
#ifndef CMO_TESTS_FAKES_WAIT_H_
#define CMO_TESTS_FAKES_WAIT_H_

#include <chrono>
#include <functional>
#include <thread>

namespace cmo::testing {

// Polls `condition` every `poll` until it is true (returns true) or `timeout` passes (false).
inline bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                    std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

inline int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_WAIT_H_
