#ifndef CMO_SHADOW_STALLED_PARTITIONS_H_
#define CMO_SHADOW_STALLED_PARTITIONS_H_

#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "store/replica_store.h"

namespace cmo::shadow {

// Notices a partition that no member of a region's consumer group reads. The relay's heartbeats
// reach every partition (every 50 ms while changes flow, every 10 s when idle), so every
// partition somebody reads moves in the replica's progress, whichever member applied it. One
// that stands still while others move was left out of the group's assignment: seen on a
// three-broker cluster when a topic was created just before the group formed, and the broker
// that answered the assignor's metadata request did not list the topic yet. librdkafka only
// rebalances when the subscription's metadata changes, which it then never does: the
// partition stayed unread (its region's watermark at 0) until the next member joined or left.
class StalledPartitions {
 public:
  using Partition = std::pair<std::string, int32_t>;

  // `stall_after` must exceed the relay's idle heartbeat interval and the group's session
  // timeout (a dead member's partitions stand still that long before the group moves them).
  explicit StalledPartitions(absl::Duration stall_after) : stall_after_(stall_after) {}

  // Watches every partition of `topics` (topic -> partition count) from `now` on, as if each
  // had just moved: after a (re)subscription, the group gets `stall_after` to assign them.
  void Watch(const std::map<std::string, int>& topics, absl::Time now);

  // Takes one reading of the replica's progress. Returns the watched partitions that have not
  // moved for `stall_after` while another one moved within the last half of it (evidence that
  // the relay and the group are working and this partition alone is left out). Never seen in
  // the progress counts as standing still.
  std::vector<Partition> Observe(std::span<const store::PartitionProgress> progress,
                                 absl::Time now);

 private:
  struct Seen {
    int64_t max_lsn = -1;  // -1: not in the progress yet
    absl::Time moved_at;
  };
  absl::Duration stall_after_;
  std::map<Partition, Seen> seen_;
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_STALLED_PARTITIONS_H_
