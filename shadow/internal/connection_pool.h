// A pool of per-thread-unsafe store connections shared by request threads: a thread leases one,
// uses it alone and gives it back. SQLite connections are cheap to keep and costly to open, so
// idle ones are kept — up to kSlots, in lock-free slots, because a lease is taken on every
// request (an uncontended exchange costs a fraction of a mutex round trip).
#ifndef CMO_SHADOW_INTERNAL_CONNECTION_POOL_H_
#define CMO_SHADOW_INTERNAL_CONNECTION_POOL_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <utility>

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

  static constexpr int kSlots = 64;

  explicit ConnectionPool(Factory factory) : factory_(std::move(factory)) {}
  ~ConnectionPool() {
    for (std::atomic<T*>& slot : idle_) delete slot.load();
  }
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  absl::StatusOr<Lease> Acquire() {
    if (T* c = TakeIdle()) return Lease(this, std::unique_ptr<T>(c));
    return Open();
  }

  // fn(T&) on a leased connection, or why none could be had; fn returns a StatusOr. For the
  // request path: the lease lives on the stack, not inside a StatusOr.
  template <typename Fn>
  auto With(Fn&& fn) -> decltype(fn(std::declval<T&>())) {
    T* idle = TakeIdle();
    if (idle == nullptr) [[unlikely]] {
      absl::StatusOr<Lease> opened = Open();
      if (!opened.ok()) return opened.status();
      return fn(**opened);
    }
    const Lease lease(this, std::unique_ptr<T>(idle));
    return fn(*lease);
  }

 private:
  T* TakeIdle() {
    for (std::atomic<T*>& slot : idle_) {
      if (slot.load(std::memory_order_relaxed) == nullptr) continue;
      if (T* c = slot.exchange(nullptr, std::memory_order_acquire); c != nullptr) return c;
    }
    return nullptr;
  }

  absl::StatusOr<Lease> Open() {
    absl::StatusOr<std::unique_ptr<T>> c = factory_();
    if (!c.ok()) return c.status();
    return Lease(this, *std::move(c));
  }

  void Return(std::unique_ptr<T> c) {
    for (std::atomic<T*>& slot : idle_) {
      T* expected = nullptr;
      if (slot.compare_exchange_strong(expected, c.get(), std::memory_order_release)) {
        c.release();
        return;
      }
    }
    // More than kSlots threads at once: this connection closes (c's destructor).
  }

  Factory factory_;
  std::array<std::atomic<T*>, kSlots> idle_{};
};

}  // namespace cmo::shadow::internal

#endif  // CMO_SHADOW_INTERNAL_CONNECTION_POOL_H_
