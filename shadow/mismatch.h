// Classification of a shadow comparison: the strong path's row against the eventual path's
// row for the same key. A difference whose replica is merely behind is not judged at once: it
// is re-checked after the op's staleness window, and only what has not converged by then is a
// real problem.
//
//   first look ──same answer──────────────────────────────► match
//       │ ──same version, other bytes────────────────────► divergence
//       └──versions differ──► re-check after the window ─┬─ converged (or caught up) ──► lag
//                                                        ├─ primary live, replica not ─► missing
//                                                        ├─ primary deleted, replica live ► resurrected
//                                                        └─ otherwise ─────────────────► divergence
#ifndef CMO_SHADOW_MISMATCH_H_
#define CMO_SHADOW_MISMATCH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "shadow/comparator.h"
#include "store/row.h"

namespace cmo::shadow {

enum class MismatchClass { kMatch, kLag, kDivergence, kMissing, kResurrected };
inline constexpr int kMismatchClasses = 5;
std::string_view MismatchClassName(MismatchClass c);

enum class FirstLook {
  kMatch,       // same answer (both without a live value counts as the same answer)
  kDivergence,  // same version, values differ under the domain's comparator
  kRecheck,     // versions differ: lag, or worse — decided after the staleness window
};

FirstLook Compare(const Comparator& comparator, const std::optional<store::Row>& primary,
                  const std::optional<store::Row>& replica);

// The final class of a difference seen first when the primary was at `first_primary_lsn`,
// from both rows read again after the staleness window — the replica first, then the primary,
// so that a legitimate replica version is never above the primary's.
MismatchClass Settle(const Comparator& comparator, int64_t first_primary_lsn,
                     const std::optional<store::Row>& primary,
                     const std::optional<store::Row>& replica);

// One non-matching comparison, as reported in telemetry and the divergence log. Values are
// never copied here (support reports must not leak personal data); LSNs identify versions.
struct Mismatch {
  std::string op;
  std::string subject;
  std::string domain;
  std::string key;
  std::string region;
  MismatchClass mismatch_class = MismatchClass::kDivergence;
  int64_t primary_lsn = 0;  // at the final look
  int64_t replica_lsn = 0;
  absl::Time detected_at = absl::UnixEpoch();
  bool operator==(const Mismatch&) const = default;
};

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_MISMATCH_H_
