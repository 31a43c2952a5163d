// A versioned row: the unit every store keeps, every change event carries and every
// comparison (shadow reads, reconciliation) looks at.
#ifndef CMO_STORE_ROW_H_
#define CMO_STORE_ROW_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace cmo::store {

// One version of one key. A delete is a tombstone: a row with no value, kept (versioned) until
// its grace period ends, so a late older write cannot resurrect the key.
struct Row {
  std::string domain;
  std::string key;
  std::string value;  // bytes; empty for a tombstone
  int64_t lsn = 0;    // the primary's log sequence number: the row's version everywhere
  bool tombstone = false;
  absl::Time commit_time = absl::UnixEpoch();
  // Replica rows: the offset of the change event that wrote it in its change-topic partition
  // (partition = PartitionOf(key)); -1 on the primary. Where a row came from, not what it is:
  // not part of RowHash or of equality.
  int64_t kafka_offset = -1;
  // Who last wrote it: the app operation and its subject (usually a user id), kept with the row
  // on the primary and carried by its change event to every replica, so a divergence found by
  // comparing rows (reconciliation, long after the outbox was trimmed) still names them.
  // Provenance too: not part of RowHash or of equality.
  std::string op = {};
  std::string subject = {};
  // The LSN this version causally follows (0: none): the parent a reply answers, named by the
  // writer (WriteRequest::depends_on). A consistent-prefix read serves the row from a replica
  // only once the replica holds every change up to it (shadow/README.md). Carried like the
  // provenance: not part of RowHash or of equality.
  int64_t depends_on = 0;

  bool operator==(const Row& o) const {
    return domain == o.domain && key == o.key && value == o.value && lsn == o.lsn &&
           tombstone == o.tombstone && commit_time == o.commit_time;
  }
};

// A row as reconciliation compares it first: its key and RowHash, without the value, so a
// server store ships a few bytes per row of a differing bucket instead of the whole row.
struct RowSummary {
  std::string key;
  uint64_t hash = 0;
};

// The 64-bit hash of a row that bucket digests sum. Covers key, LSN, tombstone and value, so
// two stores agree on a bucket's digest only if they agree on every row's version and bytes.
uint64_t RowHash(const Row& row);
// The same from the fields, for a row read in place (no Row built).
uint64_t RowHash(std::string_view key, int64_t lsn, bool tombstone, std::string_view value);

// The digest bucket of a key: XXH3_64bits(key) mod 2^bits.
uint32_t DigestBucket(std::string_view key, int bits);

}  // namespace cmo::store

#endif  // CMO_STORE_ROW_H_
