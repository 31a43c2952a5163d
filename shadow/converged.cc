#include "shadow/converged.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::shadow {

std::string EncodeConverged(const ConvergedMark& m) {
  nlohmann::json regions = nlohmann::json::object();
  for (const auto& [r, w] : m.regions) regions[r] = w;
  return base::JsonText(
      {{"v", 1}, {"lsn", m.lsn}, {"at_ms", absl::ToUnixMillis(m.at)}, {"regions", regions}});
}

absl::StatusOr<ConvergedMark> DecodeConverged(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("v", 0) != 1) {
    return absl::InvalidArgumentError("not a version-1 converged mark");
  }
  try {
    ConvergedMark m;
    m.lsn = base::JsonInt(j.at("lsn"));
    m.at = absl::FromUnixMillis(base::JsonInt(j.at("at_ms")));
    if (auto r = j.find("regions"); r != j.end()) {
      if (!r->is_object()) return absl::InvalidArgumentError("converged mark: regions");
      for (const auto& [name, w] : r->items()) m.regions[name] = base::JsonInt(w);
    }
    if (m.lsn < 0) return absl::InvalidArgumentError("converged mark: negative lsn");
    return m;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(base::StrCat("malformed converged mark: ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<ConvergedFollower>> ConvergedFollower::Create(
    const base::KafkaConfig& kafka, std::shared_ptr<const base::KeyRing> keys) {
  base::KafkaConfig config = kafka;
  config.emplace("fetch.wait.max.ms", "5");
  CMO_ASSIGN_OR_RETURN(auto consumer, base::KafkaConsumer::Create(config));
  return std::unique_ptr<ConvergedFollower>(
      new ConvergedFollower(std::move(consumer), std::move(keys)));
}

absl::Status ConvergedFollower::Poll(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return absl::OkStatus();  // another thread is reading it right now
  const std::string topic(kConvergedTopic);
  if (!assigned_) {
    // From the newest mark on: marks only grow, older ones say nothing new.
    CMO_ASSIGN_OR_RETURN(auto marks, consumer_->Watermarks(topic, 0, 2000));
    const int64_t start = marks.second > marks.first ? marks.second - 1 : base::kOffsetBeginning;
    CMO_RETURN_IF_ERROR(consumer_->Assign({{topic, 0, start}}));
    assigned_ = true;
  }
  CMO_ASSIGN_OR_RETURN(std::vector<base::KafkaMessage> messages, consumer_->Poll(1000, timeout_ms));
  for (const base::KafkaMessage& m : messages) {
    absl::StatusOr<std::string> text = keys_->Verify(m.value);
    if (!text.ok()) {  // unsigned or forged: a forged mark would release notifications early
      ++refused_;
      continue;
    }
    absl::StatusOr<ConvergedMark> mark = DecodeConverged(*text);
    if (!mark.ok()) continue;
    int64_t cur = lsn_.load(std::memory_order_relaxed);
    while (cur < mark->lsn &&
           !lsn_.compare_exchange_weak(cur, mark->lsn, std::memory_order_acq_rel)) {
    }
  }
  return absl::OkStatus();
}

}  // namespace cmo::shadow
