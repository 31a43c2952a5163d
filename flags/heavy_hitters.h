// The heaviest items of a stream in bounded memory: the Space-Saving algorithm (Metwally,
// Agrawal, El Abbadi, 2005), weighted. Clients count writes per subject with it and report
// their heaviest writers in telemetry; the control service sums those reports per time bucket
// with it and publishes the top K of each `top_k` tier (flags/tier.h).
//
// With capacity m over a stream of total weight N: every item heavier than N/m is kept, and
// each kept count overestimates the item's true weight by at most `error` <= N/m.
#ifndef CMO_FLAGS_HEAVY_HITTERS_H_
#define CMO_FLAGS_HEAVY_HITTERS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace cmo::flags {

// Not thread-safe (callers lock; see shadow/client.cc).
class HeavyHitters {
 public:
  struct Entry {
    std::string item;
    int64_t count = 0;  // an upper bound of the item's weight
    int64_t error = 0;  // count - error is a lower bound
  };

  explicit HeavyHitters(int capacity);

  void Add(std::string_view item, int64_t weight = 1);
  // The k heaviest by count (ties by item), heaviest first.
  std::vector<Entry> Top(int k) const;
  // Every kept item, in no order (for merging one sketch into another).
  const std::vector<Entry>& entries() const { return entries_; }
  int64_t total() const { return total_; }
  size_t size() const { return entries_.size(); }
  void Clear();

 private:
  size_t capacity_;
  int64_t total_ = 0;
  std::vector<Entry> entries_;
  absl::flat_hash_map<std::string, size_t> index_;  // item -> position in entries_
};

}  // namespace cmo::flags

#endif  // CMO_FLAGS_HEAVY_HITTERS_H_
