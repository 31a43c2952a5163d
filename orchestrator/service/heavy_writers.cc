#include "orchestrator/service/heavy_writers.h"

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"
#include "flags/tier_store.h"

namespace cmo::orchestrator {
namespace {
constexpr int kBucketsPerWindow = 60;
}

absl::Status HeavyWriters::LoadTiers() {
  CMO_ASSIGN_OR_RETURN(std::vector<flags::Tier> all, flags::StoredTiers(flags_.db()));
  tiers_.clear();
  absl::Duration longest = absl::ZeroDuration();
  int max_k = 0;
  for (flags::Tier& t : all) {
    if (t.top_k == 0) continue;
    longest = std::max(longest, t.top_k_window);
    max_k = std::max(max_k, t.top_k);
    tiers_.push_back(std::move(t));
  }
  const absl::Duration bucket = tiers_.empty()
                                    ? absl::ZeroDuration()
                                    : std::max(options_.min_bucket, longest / kBucketsPerWindow);
  capacity_ = std::max(256, 4 * max_k);
  // Another granularity cannot be merged with what was counted: start over (a plan changed).
  if (bucket != bucket_) buckets_.clear();
  bucket_ = bucket;
  return absl::OkStatus();
}

void HeavyWriters::Ingest(const shadow::TelemetryWindow& w) {
  if (bucket_ == absl::ZeroDuration() || w.top_writers.empty()) return;
  const absl::Time start = absl::UnixEpoch() + absl::Floor(w.end - absl::UnixEpoch(), bucket_);
  Bucket* b = nullptr;
  for (auto it = buckets_.rbegin(); it != buckets_.rend(); ++it) {
    if (it->start == start) b = &*it;
    if (it->start <= start) break;
  }
  if (b == nullptr) {
    // Late windows older than the newest bucket that no bucket holds are dropped.
    if (!buckets_.empty() && buckets_.back().start > start) return;
    b = &buckets_.emplace_back(Bucket{start, flags::HeavyHitters(capacity_)});
  }
  for (const shadow::SubjectWrites& s : w.top_writers) b->writers.Add(s.subject, s.writes);
}

absl::StatusOr<int> HeavyWriters::Refresh() {
  const absl::Time now = clock_.Now();
  if (now < next_refresh_) return 0;
  next_refresh_ = now + options_.refresh_every;
  CMO_RETURN_IF_ERROR(LoadTiers());
  if (bucket_ == absl::ZeroDuration()) return 0;
  absl::Duration longest = absl::ZeroDuration();
  for (const flags::Tier& t : tiers_) longest = std::max(longest, t.top_k_window);
  while (!buckets_.empty() && buckets_.front().start + bucket_ < now - longest) {
    buckets_.pop_front();
  }
  int changed = 0;
  for (const flags::Tier& t : tiers_) {
    flags::HeavyHitters sum(capacity_);
    for (const Bucket& b : buckets_) {
      if (b.start + bucket_ < now - t.top_k_window) continue;
      for (const flags::HeavyHitters::Entry& e : b.writers.entries()) sum.Add(e.item, e.count);
    }
    if (sum.total() == 0) continue;  // no reports: keep what was published
    std::vector<std::string> heavy;
    for (const flags::HeavyHitters::Entry& e : sum.Top(t.top_k)) heavy.push_back(e.item);
    // By name, so that the same members in another order of weight are no change.
    std::sort(heavy.begin(), heavy.end());
    flags::ChangeContext ctx{"cmo.heavy_writers",
                             base::StrCat("the ", t.top_k, " heaviest writers of the last ",
                                          absl::FormatDuration(t.top_k_window)),
                             "tier.top_k", false};
    CMO_ASSIGN_OR_RETURN(bool moved,
                         flags::SetHeavyWriters(flags_, t.plan, t.name, std::move(heavy), ctx));
    changed += moved ? 1 : 0;
  }
  return changed;
}

}  // namespace cmo::orchestrator
