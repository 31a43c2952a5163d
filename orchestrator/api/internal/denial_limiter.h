// Audit entries for refused requests, limited per client address: a flood of bad requests must
// not fill the audit log (and the disk under it), yet the first refusals of every address are
// logged, and each later entry says how many went unlogged since the one before. Besides the
// per-address allowance, one global cap bounds the entries of all addresses together: an
// attacker with thousands of source addresses (all of 127.0.0.0/8 is loopback) gets no more.
#ifndef CMO_ORCHESTRATOR_API_INTERNAL_DENIAL_LIMITER_H_
#define CMO_ORCHESTRATOR_API_INTERNAL_DENIAL_LIMITER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"

namespace cmo::orchestrator::api_internal {

// Not thread-safe (the server calls it under its mutex).
class DenialLimiter {
 public:
  // Addresses beyond `max_addresses` at once share one allowance (an attacker with many
  // addresses cannot grow the table either).
  DenialLimiter(int per_period, absl::Duration period, size_t max_addresses = 1024,
                int global_per_period = 60)
      : per_period_(per_period),
        period_(period),
        max_addresses_(max_addresses),
        global_per_period_(global_per_period) {}

  // Whether a refusal from `addr` at `now` gets an audit entry; if so, `*unlogged` is how many
  // refusals from that address (or the shared allowance) were not logged since its last entry.
  bool Admit(const std::string& addr, absl::Time now, int64_t* unlogged) {
    auto it = allowances_.find(addr);
    if (it == allowances_.end()) {
      if (allowances_.size() >= max_addresses_) Forget(now);
      it = allowances_.try_emplace(allowances_.size() < max_addresses_ ? addr : kShared).first;
    }
    Allowance& a = it->second;
    if (now - a.period_start >= period_) {
      a.period_start = now;
      a.logged = 0;
    }
    if (now - global_start_ >= period_) {
      global_start_ = now;
      global_logged_ = 0;
    }
    if (a.logged >= per_period_) {
      ++a.unlogged;
      ++total_unlogged_;
      return false;
    }
    if (global_logged_ >= global_per_period_) {
      ++global_unlogged_;
      ++total_unlogged_;
      return false;
    }
    ++a.logged;
    ++global_logged_;
    *unlogged = a.unlogged + global_unlogged_;
    a.unlogged = 0;
    global_unlogged_ = 0;
    return true;
  }

  // Refusals never logged since the limiter was made (for /metrics).
  int64_t total_unlogged() const { return total_unlogged_; }

 private:
  struct Allowance {
    absl::Time period_start = absl::InfinitePast();
    int logged = 0;
    int64_t unlogged = 0;
  };
  static constexpr char kShared[] = "(other addresses)";

  // Drops addresses whose period is over and that owe no count.
  void Forget(absl::Time now) {
    std::erase_if(allowances_, [&](const auto& kv) {
      return kv.second.unlogged == 0 && now - kv.second.period_start >= period_;
    });
  }

  const int per_period_;
  const absl::Duration period_;
  const size_t max_addresses_;
  const int global_per_period_;
  absl::Time global_start_ = absl::InfinitePast();
  int global_logged_ = 0;
  int64_t global_unlogged_ = 0;  // refused by the global cap since the last entry
  int64_t total_unlogged_ = 0;
  std::map<std::string, Allowance> allowances_;
};

}  // namespace cmo::orchestrator::api_internal

#endif  // CMO_ORCHESTRATOR_API_INTERNAL_DENIAL_LIMITER_H_
