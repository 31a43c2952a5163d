#include "shadow/stalled_partitions.h"

namespace cmo::shadow {

void StalledPartitions::Watch(const std::map<std::string, int>& topics, absl::Time now) {
  std::map<Partition, Seen> watched;
  for (const auto& [topic, n] : topics) {
    for (int32_t p = 0; p < n; ++p) {
      auto it = seen_.find({topic, p});
      watched[{topic, p}] = {it == seen_.end() ? -1 : it->second.max_lsn, now};
    }
  }
  seen_ = std::move(watched);
}

std::vector<StalledPartitions::Partition> StalledPartitions::Observe(
    std::span<const store::PartitionProgress> progress, absl::Time now) {
  for (const store::PartitionProgress& p : progress) {
    auto it = seen_.find({p.topic, p.partition});
    if (it == seen_.end() || it->second.max_lsn == p.max_lsn) continue;
    it->second = {p.max_lsn, now};
  }
  absl::Time latest = absl::InfinitePast();
  for (const auto& [partition, seen] : seen_) latest = std::max(latest, seen.moved_at);
  std::vector<Partition> stalled;
  if (now - latest > stall_after_ / 2) return stalled;  // nothing moves: not a partition's doing
  for (const auto& [partition, seen] : seen_) {
    if (now - seen.moved_at >= stall_after_) stalled.push_back(partition);
  }
  return stalled;
}

}  // namespace cmo::shadow
