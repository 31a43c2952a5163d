// The change-event format on Kafka topics `cmo.changes.<domain>`, version 1. A documented
// contract (shadow/README.md): third-party consumers such as kcat read it, so fields are only
// ever added. Message key: the data key (per-key order); value: one JSON object.
//   change:    {"v":1,"type":"change","domain","key","value_b64","tombstone","lsn","op",
//               "subject","commit_ms"[,"depends_on"]} — depends_on (added later, only when
//               set): the LSN the change causally follows (store::Row::depends_on), below lsn
//   heartbeat: {"v":1,"type":"heartbeat","lsn","sent_ms"} — sent to every partition once every
//              change with LSN <= lsn has been acknowledged, so watermark = min over partitions.
#ifndef CMO_SHADOW_CHANGE_EVENT_H_
#define CMO_SHADOW_CHANGE_EVENT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "store/row.h"

namespace cmo::shadow {

inline constexpr int kChangeEventVersion = 1;

std::string ChangeTopic(std::string_view domain);  // "cmo.changes.<domain>"

// The priority channel of a domain: the changes of subjects in a `priority: true` tier
// (flags/tier.h), in the same format, on a topic of their own that appliers read with a
// consumer of its own, so they never queue behind a bulk backlog. Heartbeats reach it too.
inline constexpr std::string_view kPriorityTopicPrefix = "cmo.priority.";
std::string PriorityTopic(std::string_view domain);  // "cmo.priority.<domain>"

// What a replica holds of `domain`: every change with an LSN at or below the result is applied.
// The minimum of the watermarks of its change topic and, once an applier recorded it, its
// priority topic (a relay creates the priority topic before the change topic, so an applier
// that records the change topic records the priority topic with it).
absl::StatusOr<int64_t> DomainWatermark(store::ReplicaStore& replica, std::string_view domain);

struct ChangeEvent {
  bool heartbeat = false;
  store::Row row;  // with the op and subject of the write; for a heartbeat only row.lsn is set
  absl::Time sent = absl::UnixEpoch();  // heartbeats
  // Heartbeats: the latest re-publication request (store::PrimaryStore::RequestRepublish) the
  // relay had answered when it sent this one; 0 from relays that predate requests.
  int64_t republish = 0;
};

std::string EncodeChange(const store::OutboxEntry& entry);
std::string EncodeHeartbeat(int64_t lsn, absl::Time now, int64_t republish = 0);
// kInvalidArgument for anything that is not a version-1 event (never throws).
absl::StatusOr<ChangeEvent> DecodeEvent(std::string_view value);
// The same with a general JSON parser: what DecodeEvent falls back to for texts its fast
// scanner declines. Public so that tests and the fuzzer can check the two agree on every input.
absl::StatusOr<ChangeEvent> DecodeEventInFull(std::string_view value);

// The partition of a key: XXH3_64bits(key) mod partitions. Chosen by the relay (not by the
// client's partitioner) so it is the same for every producer and documented.
int32_t PartitionOf(std::string_view key, int partitions);

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_CHANGE_EVENT_H_
