#include "orchestrator/demo/workload.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "base/strings.h"

namespace cmo::orchestrator {

ZipfPicker::ZipfPicker(int n, double s) {
  cdf_.reserve(static_cast<size_t>(n));
  double sum = 0;
  for (int k = 0; k < n; ++k) {
    sum += 1.0 / std::pow(k + 1, s);
    cdf_.push_back(sum);
  }
  for (double& v : cdf_) v /= sum;
}

int ZipfPicker::Pick(std::mt19937_64& rng) const {
  const double u = std::uniform_real_distribution<double>(0, 1)(rng);
  const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
  return static_cast<int>(
      std::min<size_t>(cdf_.size() - 1, static_cast<size_t>(it - cdf_.begin())));
}

std::string UserName(int rank) {
  switch (rank) {
    case 0:
      return "celebrity-1";
    case 1:
      return "celebrity-2";
    case 2:
      return "creator-99";
    default:
      return base::StrCat("user-", rank);
  }
}

int UserRank(std::string_view name) {
  for (int rank = 0; rank < 3; ++rank) {
    if (name == UserName(rank)) return rank;
  }
  int rank = 0;
  if (name.starts_with("user-") && absl::SimpleAtoi(base::ToAbsl(name.substr(5)), &rank) &&
      rank >= 3) {
    return rank;
  }
  return std::numeric_limits<int>::max();
}

void RunWorkload(shadow::Client& client, const WorkloadOptions& o, const std::atomic<bool>& stop,
                 WorkloadCounts& counts) {
  std::mt19937_64 rng(o.seed * 7919 + static_cast<uint64_t>(o.shard));
  const ZipfPicker users(o.users, o.zipf_s);
  std::vector<std::string> tokens(static_cast<size_t>(o.users));  // one session per user
  std::vector<int64_t> likes(static_cast<size_t>(o.users), 0);
  const absl::Duration pace = absl::Seconds(1) / std::max(1, o.ops_per_s);
  absl::Time next = absl::Now();
  auto count = [&](const auto& r, bool read) {
    if (!r.ok()) {
      if (counts.errors.fetch_add(1, std::memory_order_relaxed) == 0) {
        std::lock_guard<std::mutex> lock(counts.mu);
        counts.first_error = r.status().ToString();
      }
      return false;
    }
    (read ? counts.reads : counts.writes).fetch_add(1, std::memory_order_relaxed);
    return true;
  };
  while (!stop.load(std::memory_order_relaxed)) {
    // The acting user belongs to this shard; what they look at (authors) is anyone's.
    int rank = users.Pick(rng);
    rank -= rank % o.shards;
    rank = std::min(o.users - 1, rank + o.shard);
    const std::string user = UserName(rank);
    std::string& token = tokens[static_cast<size_t>(rank)];
    // Most likes land on the long tail of posts; 5% on the popular ones (Zipf), which is where
    // replication lag shows as stale reads.
    const int author = rng() % 20 == 0 ? users.Pick(rng) : static_cast<int>(rng() % o.users);
    const std::string post = base::StrCat("post-", UserName(author));
    const int dice = static_cast<int>(rng() % 100);
    if (dice < 55) {
      auto r = client.Read("like.count", user, post, token);
      if (count(r, true)) {
        if (r->path == flags::Path::kEventual) counts.eventual_reads.fetch_add(1);
        if (r->fell_back) counts.fell_back.fetch_add(1);
        token = r->token;
      }
    } else if (dice < 65) {
      const int64_t n = ++likes[static_cast<size_t>(author)];
      auto w =
          client.Write("post.like", user, post, base::StrCat(n, " likes (by ", user, ")"), token);
      if (count(w, false)) token = w->token;
    } else if (dice < 82) {
      auto r = client.Read("feed.read", user, base::StrCat("feed-", user), token);
      if (count(r, true) && r->path == flags::Path::kEventual) counts.eventual_reads.fetch_add(1);
    } else if (dice < 90) {
      auto r = client.Read("comment.list", user, base::StrCat("comments-", post), token);
      if (count(r, true)) token = r->token;
    } else if (dice < 98) {
      auto w = client.Write("comment.create", user, base::StrCat("comments-", post),
                            base::StrCat("comment by ", user, " #", rng() % 1000), token);
      if (count(w, false)) token = w->token;
    } else {
      auto w = client.Write("payment.transfer", user, base::StrCat("wallet-", user),
                            base::StrCat("balance ", rng() % 10'000));
      count(w, false);
    }
    next += pace;
    const absl::Time now = absl::Now();
    if (next > now) {
      absl::SleepFor(next - now);
    } else if (now - next > absl::Seconds(1)) {
      next = now;  // fell behind (a slow moment): do not burst to catch up
    }
  }
}

}  // namespace cmo::orchestrator
