#include "shadow/mismatch.h"

namespace cmo::shadow {
namespace {

bool Live(const std::optional<store::Row>& r) { return r.has_value() && !r->tombstone; }
int64_t Lsn(const std::optional<store::Row>& r) { return r.has_value() ? r->lsn : 0; }

}  // namespace

std::string_view MismatchClassName(MismatchClass c) {
  switch (c) {
    case MismatchClass::kMatch:
      return "match";
    case MismatchClass::kLag:
      return "lag";
    case MismatchClass::kDivergence:
      return "divergence";
    case MismatchClass::kMissing:
      return "missing";
    case MismatchClass::kResurrected:
      return "resurrected";
  }
  return "unknown";
}

FirstLook Compare(const Comparator& comparator, const std::optional<store::Row>& primary,
                  const std::optional<store::Row>& replica) {
  if (!Live(primary) && !Live(replica)) return FirstLook::kMatch;
  // What the app would see is the same, whatever the versions say (a rewrite of equal bytes).
  if (Live(primary) && Live(replica) && comparator.Equal(primary->value, replica->value)) {
    return FirstLook::kMatch;
  }
  if (Lsn(primary) == Lsn(replica)) return FirstLook::kDivergence;
  return FirstLook::kRecheck;
}

MismatchClass Settle(const Comparator& comparator, int64_t first_primary_lsn,
                     const std::optional<store::Row>& primary,
                     const std::optional<store::Row>& replica) {
  switch (Compare(comparator, primary, replica)) {
    case FirstLook::kMatch:
      return MismatchClass::kLag;  // it converged within the window
    case FirstLook::kDivergence:
      return MismatchClass::kDivergence;
    case FirstLook::kRecheck:
      break;
  }
  // Re-checks read the replica before the primary, so a replica version above the primary's
  // is one the primary never had.
  if (Lsn(replica) > Lsn(primary)) return MismatchClass::kDivergence;
  // Newer writes since the first look: the replica has reached the version compared then, so
  // it was only late.
  if (Lsn(replica) >= first_primary_lsn) return MismatchClass::kLag;
  if (Live(primary) && !Live(replica)) return MismatchClass::kMissing;
  if (!Live(primary) && primary.has_value() && Live(replica)) return MismatchClass::kResurrected;
  return MismatchClass::kDivergence;
}

}  // namespace cmo::shadow
