#include "shadow/hot_items.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/strings.h"

namespace cmo::shadow {
namespace {

std::string ItemKey(std::string_view domain, std::string_view key) {
  return base::StrCat(domain, "\x1f", key);
}

}  // namespace

std::string EncodeHotItem(const HotItem& h) {
  return base::JsonText({{"v", 1},
                         {"domain", h.domain},
                         {"key", h.key},
                         {"until_ms", absl::ToUnixMillis(h.until)},
                         {"op", h.op}});
}

absl::StatusOr<HotItem> DecodeHotItem(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("v", 0) != 1) {
    return absl::InvalidArgumentError("not a version-1 hot item");
  }
  try {
    HotItem h;
    h.domain = j.at("domain").get<std::string>();
    h.key = j.at("key").get<std::string>();
    h.until = absl::FromUnixMillis(base::JsonInt(j.at("until_ms")));
    h.op = j.value("op", "");
    // Bounded, as every client keeps up to kMaxHotItems of them.
    if (h.domain.empty() || h.domain.size() > 128 || h.key.size() > 1024) {
      return absl::InvalidArgumentError("hot item: domain 1-128 bytes, key at most 1024");
    }
    return h;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(base::StrCat("malformed hot item: ", e.what()));
  }
}

bool HotItems::Mark(std::string_view domain, std::string_view key, absl::Time until,
                    absl::Time now) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (items_.size() >= static_cast<size_t>(kMaxHotItems)) {
    absl::erase_if(items_, [&](const auto& item) { return item.second <= now; });
  }
  std::string k = ItemKey(domain, key);
  auto it = items_.find(k);
  if (it == items_.end() && items_.size() >= static_cast<size_t>(kMaxHotItems)) return false;
  if (it == items_.end()) {
    items_.emplace(std::move(k), until);
  } else {
    it->second = std::max(it->second, until);
  }
  count_.store(static_cast<int>(items_.size()), std::memory_order_relaxed);
  return true;
}

void HotItems::Prune(absl::Time now) {
  if (count_.load(std::memory_order_relaxed) == 0) return;
  std::unique_lock<std::shared_mutex> lock(mu_);
  absl::erase_if(items_, [&](const auto& item) { return item.second <= now; });
  count_.store(static_cast<int>(items_.size()), std::memory_order_relaxed);
}

bool HotItems::Lookup(std::string_view domain, std::string_view key, absl::Time now) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = items_.find(ItemKey(domain, key));
  return it != items_.end() && it->second > now;
}

}  // namespace cmo::shadow
