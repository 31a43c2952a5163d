// Follows one single-partition topic of signed messages (base/message_auth.h) from its newest
// message on: what clients do with `cmo.converged` and `cmo.amplified`. Unsigned and forged
// messages are dropped and counted. Thread-safe: Poll() from any thread (one at a time reads;
// a concurrent call returns at once).
#ifndef CMO_SHADOW_SIGNED_FOLLOWER_H_
#define CMO_SHADOW_SIGNED_FOLLOWER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/kafka.h"
#include "base/message_auth.h"

namespace cmo::shadow {

class SignedFollower {
 public:
  static absl::StatusOr<std::unique_ptr<SignedFollower>> Create(
      const base::KafkaConfig& kafka, std::shared_ptr<const base::KeyRing> keys, std::string topic);

  // Hands each verified message that arrived to `on_text` (waits up to `timeout_ms` for one).
  absl::Status Poll(int timeout_ms, const std::function<void(std::string_view)>& on_text);
  int64_t refused() const { return refused_.load(); }

 private:
  SignedFollower(std::unique_ptr<base::KafkaConsumer> consumer,
                 std::shared_ptr<const base::KeyRing> keys, std::string topic)
      : consumer_(std::move(consumer)), keys_(std::move(keys)), topic_(std::move(topic)) {}

  std::mutex mu_;  // the consumer, assigned_
  std::unique_ptr<base::KafkaConsumer> consumer_;
  const std::shared_ptr<const base::KeyRing> keys_;
  const std::string topic_;
  bool assigned_ = false;
  std::atomic<int64_t> refused_{0};
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_SIGNED_FOLLOWER_H_
