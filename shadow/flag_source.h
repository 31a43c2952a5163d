// Where a client gets its flag snapshots from. The default reads the control database in the
// state dir whenever its revision moves; the Kafka `cmo.flags` subscription plugs in here too.
#ifndef CMO_SHADOW_FLAG_SOURCE_H_
#define CMO_SHADOW_FLAG_SOURCE_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "base/kafka.h"
#include "base/message_auth.h"
#include "flags/flag_store.h"
#include "flags/snapshot.h"

namespace cmo::shadow {

// Called from one thread at a time (the client's background work).
class FlagSource {
 public:
  virtual ~FlagSource() = default;
  // A newer snapshot than `revision`, or nullptr when nothing changed. An error means the
  // control plane could not be reached: the client keeps routing on what it has.
  virtual absl::StatusOr<std::shared_ptr<const flags::Snapshot>> Poll(int64_t revision) = 0;
  // Snapshots received and refused (unsigned, wrongly signed, implausible revision).
  virtual int64_t refused() const { return 0; }
};

// A snapshot whose revision is this far above the one a client has is refused: revisions move
// by one per change, and a forged huge one would otherwise win over every later real one.
inline constexpr int64_t kMaxRevisionJump = 1'000'000;

// Polls the control database (SQLite, WAL) by its revision; reopens it after an error.
class ControlDbFlagSource final : public FlagSource {
 public:
  ControlDbFlagSource(std::string path, const base::Clock& clock)
      : path_(std::move(path)), clock_(clock) {}
  absl::StatusOr<std::shared_ptr<const flags::Snapshot>> Poll(int64_t revision) override;

 private:
  const std::string path_;
  const base::Clock& clock_;
  std::unique_ptr<flags::FlagStore> store_;
};

inline constexpr std::string_view kFlagsTopic = "cmo.flags";

// Subscribes to Kafka `cmo.flags` (one partition, key "snapshot", compacted on a real
// cluster), where the control service publishes the whole snapshot on every change and again
// every second. Starts from the newest message; a snapshot is taken only if its revision is
// newer. Silence longer than `silence_limit` counts as the control plane being unreachable.
class KafkaFlagSource final : public FlagSource {
 public:
  // Only snapshots signed with a key of `keys` are taken (base/message_auth.h).
  static absl::StatusOr<std::unique_ptr<KafkaFlagSource>> Create(
      const base::KafkaConfig& kafka, const base::Clock& clock,
      std::shared_ptr<const base::KeyRing> keys, absl::Duration silence_limit = absl::Seconds(3));
  ~KafkaFlagSource() override;
  // With revision -1 (the first call) waits up to `silence_limit` for a snapshot.
  absl::StatusOr<std::shared_ptr<const flags::Snapshot>> Poll(int64_t revision) override;
  int64_t refused() const override { return refused_.load(); }

 private:
  KafkaFlagSource(std::unique_ptr<base::KafkaConsumer> consumer, const base::Clock& clock,
                  std::shared_ptr<const base::KeyRing> keys, absl::Duration silence_limit)
      : consumer_(std::move(consumer)),
        clock_(clock),
        keys_(std::move(keys)),
        silence_limit_(silence_limit) {}
  absl::Status Assign();

  std::unique_ptr<base::KafkaConsumer> consumer_;
  const base::Clock& clock_;
  const std::shared_ptr<const base::KeyRing> keys_;
  const absl::Duration silence_limit_;
  std::atomic<int64_t> refused_{0};  // read by stats() from any thread
  bool assigned_ = false;
  absl::Time last_heard_ = absl::InfinitePast();
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_FLAG_SOURCE_H_
