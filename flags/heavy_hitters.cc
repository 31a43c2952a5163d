#include "flags/heavy_hitters.h"

#include <algorithm>

#include "base/strings.h"

namespace cmo::flags {

HeavyHitters::HeavyHitters(int capacity) : capacity_(static_cast<size_t>(std::max(1, capacity))) {
  entries_.reserve(capacity_);
}

void HeavyHitters::Add(std::string_view item, int64_t weight) {
  if (weight <= 0) return;
  total_ += weight;
  if (auto it = index_.find(base::ToAbsl(item)); it != index_.end()) {
    entries_[it->second].count += weight;
    return;
  }
  if (entries_.size() < capacity_) {
    index_.emplace(std::string(item), entries_.size());
    entries_.push_back({std::string(item), weight, 0});
    return;
  }
  // The lightest item gives up its counter; the newcomer inherits its count as possible error.
  // A linear scan: capacities are a few hundred and a miss is cheaper than keeping a heap.
  auto min = std::min_element(entries_.begin(), entries_.end(),
                              [](const Entry& a, const Entry& b) { return a.count < b.count; });
  index_.erase(min->item);
  const size_t pos = static_cast<size_t>(min - entries_.begin());
  index_.emplace(std::string(item), pos);
  *min = {std::string(item), min->count + weight, min->count};
}

std::vector<HeavyHitters::Entry> HeavyHitters::Top(int k) const {
  std::vector<Entry> out = entries_;
  const size_t n = std::min(out.size(), static_cast<size_t>(std::max(0, k)));
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(),
                    [](const Entry& a, const Entry& b) {
                      return a.count != b.count ? a.count > b.count : a.item < b.item;
                    });
  out.resize(n);
  return out;
}

void HeavyHitters::Clear() {
  total_ = 0;
  entries_.clear();
  index_.clear();
}

}  // namespace cmo::flags
