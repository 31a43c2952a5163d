// Converged notifications: when a change has been applied in every region. The relay side of
// `cmo serve` publishes, on Kafka topic `cmo.converged` (one partition), the LSN through which
// every region's applier has applied every change — of every domain, since LSNs are the single
// primary's — signed with the deployment's key ring, whenever it moves (and once a second
// while it does not). Clients follow it: `Client::WaitConverged(token, timeout)` returns once
// the change behind a session token is visible everywhere, so an app can hold "X replied to
// you" until the reply can be read in every region.
//
// Wire format (version 1), key "converged":
//   {"v":1,"lsn":8812,"at_ms":1764950400123,"regions":{"eu-west":8830,"us-east":8812}}
// `regions` are the per-region watermarks the minimum was taken over; fields are only added.
#ifndef CMO_SHADOW_CONVERGED_H_
#define CMO_SHADOW_CONVERGED_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/kafka.h"
#include "base/message_auth.h"
#include "shadow/signed_follower.h"

namespace cmo::shadow {

inline constexpr std::string_view kConvergedTopic = "cmo.converged";

struct ConvergedMark {
  int64_t lsn = 0;  // every change with an LSN at or below it is applied in every region
  absl::Time at = absl::UnixEpoch();
  std::map<std::string, int64_t> regions;
  bool operator==(const ConvergedMark&) const = default;
};

std::string EncodeConverged(const ConvergedMark& m);
// kInvalidArgument for anything that is not a version-1 mark (never throws).
absl::StatusOr<ConvergedMark> DecodeConverged(std::string_view text);

// Follows `cmo.converged` for a client (a forged mark would release notifications early: only
// signed ones count). Thread-safe; lsn() never blocks.
class ConvergedFollower {
 public:
  static absl::StatusOr<std::unique_ptr<ConvergedFollower>> Create(
      const base::KafkaConfig& kafka, std::shared_ptr<const base::KeyRing> keys);

  // Takes the marks that arrived (waits up to `timeout_ms` for the first).
  absl::Status Poll(int timeout_ms);
  int64_t lsn() const { return lsn_.load(std::memory_order_acquire); }
  int64_t refused() const { return follower_->refused(); }

 private:
  explicit ConvergedFollower(std::unique_ptr<SignedFollower> f) : follower_(std::move(f)) {}
  std::unique_ptr<SignedFollower> follower_;
  std::atomic<int64_t> lsn_{0};
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_CONVERGED_H_
