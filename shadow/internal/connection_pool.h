// A pool of per-thread-unsafe store connections shared by request threads: a thread leases one,
// uses it alone and gives it back. SQLite connections are cheap to keep and costly to open, so
// the pool grows to the number of threads that read at once and never shrinks.
#ifndef CMO_SHADOW_INTERNAL_CONNECTION_POOL_H_
#define CMO_SHADOW_INTERNAL_CONNECTION_POOL_H_

#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cmo::shadow::internal {

// Thread-safe.
template <typename T>
class ConnectionPool {
 public:
  using Factory = std::function<absl::StatusOr<std::unique_ptr<T>>()>;

  // Returns its connection to the pool when destroyed.
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<T> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (c_ != nullptr) pool_->Return(std::move(c_));
    }
    T* operator->() const { return c_.get(); }
    T& operator*() const { return *c_; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<T> c_;
  };

  explicit ConnectionPool(Factory factory) : factory_(std::move(factory)) {}

  absl::StatusOr<Lease> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<T> c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(c));
      }
    }
    absl::StatusOr<std::unique_ptr<T>> c = factory_();
    if (!c.ok()) return c.status();
    return Lease(this, *std::move(c));
  }

 private:
  void Return(std::unique_ptr<T> c) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(c));
  }

  Factory factory_;
  std::mutex mu_;
  std::vector<std::unique_ptr<T>> idle_;
};

}  // namespace cmo::shadow::internal

#endif  // CMO_SHADOW_INTERNAL_CONNECTION_POOL_H_
