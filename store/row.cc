#include "store/row.h"

// The streaming state on the stack (no allocation per hash) needs the static-linking API.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

namespace cmo::store {

uint64_t RowHash(const Row& row) { return RowHash(row.key, row.lsn, row.tombstone, row.value); }

uint64_t RowHash(std::string_view key, int64_t lsn, bool tombstone, std::string_view value) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, key.data(), key.size());
  const unsigned char header[10] = {0,  // separates the key from the fixed-width fields
                                    static_cast<unsigned char>(tombstone ? 1 : 0),
                                    static_cast<unsigned char>(lsn),
                                    static_cast<unsigned char>(lsn >> 8),
                                    static_cast<unsigned char>(lsn >> 16),
                                    static_cast<unsigned char>(lsn >> 24),
                                    static_cast<unsigned char>(lsn >> 32),
                                    static_cast<unsigned char>(lsn >> 40),
                                    static_cast<unsigned char>(lsn >> 48),
                                    static_cast<unsigned char>(lsn >> 56)};
  XXH3_64bits_update(&state, header, sizeof(header));
  XXH3_64bits_update(&state, value.data(), value.size());
  return XXH3_64bits_digest(&state);
}

uint32_t DigestBucket(std::string_view key, int bits) {
  return static_cast<uint32_t>(XXH3_64bits(key.data(), key.size()) & ((uint64_t{1} << bits) - 1));
}

}  // namespace cmo::store
