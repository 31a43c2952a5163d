// Where a client gets its flag snapshots from. The default reads the control database in the
// state dir whenever its revision moves; the Kafka `cmo.flags` subscription plugs in here too.
#ifndef CMO_SHADOW_FLAG_SOURCE_H_
#define CMO_SHADOW_FLAG_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/clock.h"
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
};

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

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_FLAG_SOURCE_H_
