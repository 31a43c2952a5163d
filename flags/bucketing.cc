#include "flags/bucketing.h"

// Inlined: bucketing runs on every request (see snapshot.cc).
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace cmo::flags {

uint64_t SaltSeed(std::string_view salt) { return XXH3_64bits(salt.data(), salt.size()); }

uint32_t BucketWithSeed(uint64_t salt_seed, std::string_view subject) {
  return static_cast<uint32_t>(XXH3_64bits_withSeed(subject.data(), subject.size(), salt_seed) %
                               kBucketCount);
}

uint32_t Bucket(std::string_view salt, std::string_view subject) {
  return BucketWithSeed(SaltSeed(salt), subject);
}

}  // namespace cmo::flags
