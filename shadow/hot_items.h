// Hot items: items a write made "hot" under an amplification guard (flags/amplifier.h) — a post
// whose context says it reaches more than the plan's threshold — whose reads take the strong
// path on every client until the guard's window ends. The writing client marks the item at
// once and announces it on Kafka `cmo.amplified` (one partition, signed like every message
// clients act on); every client follows the topic and marks it too, within milliseconds.
//
// Wire format (version 1), key "hot":
//   {"v":1,"domain":"posts","key":"post-9","until_ms":1764950430123,"op":"post.create"}
#ifndef CMO_SHADOW_HOT_ITEMS_H_
#define CMO_SHADOW_HOT_ITEMS_H_

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cmo::shadow {

inline constexpr std::string_view kAmplifiedTopic = "cmo.amplified";
// Hot items one client keeps at most: a burst of viral writes past it is counted, not kept
// (those items read as their op routes them).
inline constexpr int kMaxHotItems = 10'000;

struct HotItem {
  std::string domain;
  std::string key;
  absl::Time until = absl::UnixEpoch();
  std::string op;  // the write op whose guard made it hot
  bool operator==(const HotItem&) const = default;
};

std::string EncodeHotItem(const HotItem& h);
absl::StatusOr<HotItem> DecodeHotItem(std::string_view text);

// Thread-safe. Hot() costs one relaxed atomic load while nothing is hot.
class HotItems {
 public:
  // Marks the item hot until `until` (a later mark extends it). False when kMaxHotItems
  // unexpired items are hot already.
  bool Mark(std::string_view domain, std::string_view key, absl::Time until, absl::Time now);
  bool Hot(std::string_view domain, std::string_view key, absl::Time now) const {
    if (count_.load(std::memory_order_relaxed) == 0) return false;
    return Lookup(domain, key, now);
  }
  int size() const { return count_.load(std::memory_order_relaxed); }
  // Forgets the items whose window has ended (so reads stop looking them up).
  void Prune(absl::Time now);

 private:
  bool Lookup(std::string_view domain, std::string_view key, absl::Time now) const;
  mutable std::shared_mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> items_;  // "domain\x1fkey" -> until; guarded
  std::atomic<int> count_{0};
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_HOT_ITEMS_H_
