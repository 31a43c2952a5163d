// Stable bucketing of subjects: the same (salt, subject) gets the same bucket in every process,
// on every machine and in every release, so a user's path never flaps.
//
// The algorithm, to be reproducible from any language (golden vectors:
// tests/flags/testdata/bucketing_golden.tsv):
//   seed   = XXH3_64bits(salt bytes)                      (xxHash 0.8, XXH3 64-bit, seed 0)
//   hash   = XXH3_64bits_withSeed(subject bytes, seed)
//   bucket = hash mod 10000                               (0..9999, one per basis point)
// A subject is on the eventual path at share p (basis points) iff bucket < p. So ramps are
// monotonic: a subject inside 5% stays inside 10%, and lowering a ramp moves the subjects
// with the highest buckets (the most recently added) back first.
#ifndef CMO_FLAGS_BUCKETING_H_
#define CMO_FLAGS_BUCKETING_H_

#include <cstdint>
#include <string_view>

namespace cmo::flags {

inline constexpr uint32_t kBucketCount = 10000;

// XXH3_64bits(salt): precomputed once per flag so Decide hashes only the subject.
uint64_t SaltSeed(std::string_view salt);

// The bucket of a subject under a precomputed salt seed. Pure, allocation-free, thread-safe.
uint32_t BucketWithSeed(uint64_t salt_seed, std::string_view subject);

// Convenience: BucketWithSeed(SaltSeed(salt), subject).
uint32_t Bucket(std::string_view salt, std::string_view subject);

}  // namespace cmo::flags

#endif  // CMO_FLAGS_BUCKETING_H_
