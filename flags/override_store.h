// Support overrides (flags/override.h) kept in the control state beside the flags. Each change
// is one transaction with its audit entry and a new flag revision, so the next snapshot the
// control service publishes carries it to every client.
#ifndef CMO_FLAGS_OVERRIDE_STORE_H_
#define CMO_FLAGS_OVERRIDE_STORE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "flags/flag_store.h"
#include "flags/override.h"

namespace cmo::base {
class SqlDb;
}

namespace cmo::flags {

// Overrides not yet expired at `now`, oldest first.
absl::StatusOr<std::vector<Override>> ActiveOverrides(base::SqlDb& db, absl::Time now);

// Adds `o` (subject, op or domain or neither, expires; actor and reason from `ctx`), or renews
// the active override of the same subject and scope with the new expiry and reason.
// kInvalidArgument for a bad subject, scope or expiry (what to give instead), kNotFound for an
// unknown op or domain, kFailedPrecondition when kMaxOverrides are active.
absl::StatusOr<Override> AddOverride(FlagStore& flags, Override o, const ChangeContext& ctx);

// Removes an active override; kNotFound when there is none with that id (or it has expired).
absl::StatusOr<Override> RemoveOverride(FlagStore& flags, int64_t id, const ChangeContext& ctx);

}  // namespace cmo::flags

#endif  // CMO_FLAGS_OVERRIDE_STORE_H_
