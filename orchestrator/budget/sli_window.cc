#include "orchestrator/budget/sli_window.h"

#include <algorithm>

namespace cmo::orchestrator {

SliCounts& SliCounts::operator+=(const SliCounts& o) {
  reads_eventual += o.reads_eventual;
  reads_strong += o.reads_strong;
  samples += o.samples;
  lag += o.lag;
  bad += o.bad;
  violations += o.violations;
  fallbacks += o.fallbacks;
  windows += o.windows;
  return *this;
}

SliCounts SliCounts::From(const shadow::OpWindow& w) {
  auto cls = [&](shadow::MismatchClass c) { return w.classes[static_cast<size_t>(c)]; };
  SliCounts s;
  // A fallback is a read routed eventual that the primary served: it counts as routed eventual.
  s.reads_eventual = w.reads_eventual + w.fallbacks;
  s.reads_strong = w.reads_strong - w.fallbacks;
  s.samples = w.samples;
  s.lag = cls(shadow::MismatchClass::kLag);
  s.bad = cls(shadow::MismatchClass::kDivergence) + cls(shadow::MismatchClass::kMissing) +
          cls(shadow::MismatchClass::kResurrected);
  s.violations = w.guarantee_violations;
  s.fallbacks = w.fallbacks;
  s.windows = 1;
  return s;
}

int64_t SliWindow::IndexOf(absl::Time t) const {
  return absl::ToInt64Nanoseconds(t - absl::UnixEpoch()) / absl::ToInt64Nanoseconds(bucket_);
}

void SliWindow::Add(absl::Time at, const SliCounts& counts) {
  const int64_t index = IndexOf(at);
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), index,
                             [](const Bucket& b, int64_t i) { return b.index < i; });
  if (it == buckets_.end() || it->index != index) it = buckets_.insert(it, Bucket{index, {}});
  it->counts += counts;
}

SliCounts SliWindow::Sum(absl::Time now, absl::Duration length) const {
  return SumSince(now - length);
}

SliCounts SliWindow::SumSince(absl::Time since) const {
  const int64_t first = IndexOf(since) + 1;  // whole buckets after `since`
  SliCounts out;
  for (auto it = buckets_.rbegin(); it != buckets_.rend() && it->index >= first; ++it) {
    out += it->counts;
  }
  return out;
}

void SliWindow::Prune(absl::Time now) {
  const int64_t oldest = IndexOf(now - keep_);
  while (!buckets_.empty() && buckets_.front().index < oldest) buckets_.pop_front();
}

}  // namespace cmo::orchestrator
