// A mutex that ThreadSanitizer understands and clang's -Wthread-safety checks. Debian's Abseil
// is not built with TSan annotations, so TSan cannot see absl::Mutex's synchronization and
// reports false races; std::mutex goes through pthread, which TSan intercepts. This wraps it
// with the capability annotations, so ABSL_GUARDED_BY keeps working.
#ifndef CMO_BASE_MUTEX_H_
#define CMO_BASE_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace cmo::base {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

  // Waits (with the lock held on entry and exit) until `ready()` or `timeout` passes; returns
  // ready(). Woken by Signal().
  template <typename Pred>
  bool AwaitWithTimeout(Pred ready, absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    const bool ok = cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), ready);
    lock.release();  // still held: the caller's MutexLock unlocks it
    return ok;
  }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

}  // namespace cmo::base

#endif  // CMO_BASE_MUTEX_H_
