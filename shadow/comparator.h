// How shadow comparison decides that the strong and the eventual path gave the same answer,
// per domain: byte equality (the default), JSON equality ignoring listed fields (timestamps,
// etags a replica may legitimately rewrite), or set equality of JSON arrays (order-free lists
// such as the likers of a post).
#ifndef CMO_SHADOW_COMPARATOR_H_
#define CMO_SHADOW_COMPARATOR_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cmo::shadow {

enum class ComparatorKind { kExact, kJson, kSet };

// Immutable; thread-safe.
struct Comparator {
  ComparatorKind kind = ComparatorKind::kExact;
  // kJson: fields left out of the comparison, as dotted paths from the top-level object
  // ("updated_at", "meta.etag").
  std::vector<std::string> ignored_fields;

  // Values that do not parse as JSON (kJson) or as a JSON array (kSet) compare as bytes, so a
  // malformed value on one side is a mismatch rather than an error.
  bool Equal(std::string_view a, std::string_view b) const;
};

// "exact", "set", "json", or "json:ignore=updated_at,meta.etag". kInvalidArgument saying which
// spellings exist.
absl::StatusOr<Comparator> ParseComparator(std::string_view spec);

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_COMPARATOR_H_
