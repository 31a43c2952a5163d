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
  CMO_ASSIGN_OR_RETURN(
      auto f, SignedFollower::Create(kafka, std::move(keys), std::string(kConvergedTopic)));
  return std::unique_ptr<ConvergedFollower>(new ConvergedFollower(std::move(f)));
}

absl::Status ConvergedFollower::Poll(int timeout_ms) {
  return follower_->Poll(timeout_ms, [this](std::string_view text) {
    absl::StatusOr<ConvergedMark> mark = DecodeConverged(text);
    if (!mark.ok()) return;
    int64_t cur = lsn_.load(std::memory_order_relaxed);
    while (cur < mark->lsn &&
           !lsn_.compare_exchange_weak(cur, mark->lsn, std::memory_order_acq_rel)) {
    }
  });
}

}  // namespace cmo::shadow
