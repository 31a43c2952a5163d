#include "shadow/signed_follower.h"

#include "base/status_macros.h"

namespace cmo::shadow {

absl::StatusOr<std::unique_ptr<SignedFollower>> SignedFollower::Create(
    const base::KafkaConfig& kafka, std::shared_ptr<const base::KeyRing> keys, std::string topic) {
  base::KafkaConfig config = kafka;
  config.emplace("fetch.wait.max.ms", "5");
  CMO_ASSIGN_OR_RETURN(auto consumer, base::KafkaConsumer::Create(config));
  return std::unique_ptr<SignedFollower>(
      new SignedFollower(std::move(consumer), std::move(keys), std::move(topic)));
}

absl::Status SignedFollower::Poll(int timeout_ms,
                                  const std::function<void(std::string_view)>& on_text) {
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return absl::OkStatus();  // another thread is reading it right now
  if (!assigned_) {
    CMO_ASSIGN_OR_RETURN(auto marks, consumer_->Watermarks(topic_, 0, 2000));
    const int64_t start = marks.second > marks.first ? marks.second - 1 : base::kOffsetBeginning;
    CMO_RETURN_IF_ERROR(consumer_->Assign({{topic_, 0, start}}));
    assigned_ = true;
  }
  CMO_ASSIGN_OR_RETURN(std::vector<base::KafkaMessage> messages, consumer_->Poll(1000, timeout_ms));
  for (const base::KafkaMessage& m : messages) {
    absl::StatusOr<std::string> text = keys_->Verify(m.value);
    if (!text.ok()) {
      ++refused_;
      continue;
    }
    on_text(*text);
  }
  return absl::OkStatus();
}

}  // namespace cmo::shadow
