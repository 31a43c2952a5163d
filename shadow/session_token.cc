#include "shadow/session_token.h"

// Inlined: tokens are checked on every request (see flags/snapshot.cc).
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <utility>

#include "absl/base/attributes.h"
#include "base/pg_replication.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::shadow {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The two formats, as [version][LSN, little-endian][low bytes of XXH3-64 over version + LSN].
struct Format {
  uint8_t version;
  size_t lsn_bytes;
  size_t sum_bytes;
  constexpr size_t bytes() const { return 1 + lsn_bytes + sum_bytes; }
  constexpr size_t chars() const { return (bytes() * 8 + 5) / 6; }
};
// v2 fits in 15 characters, the longest string libstdc++ keeps without a heap allocation, and
// tokens are copied on every request.
constexpr Format kV2{2, 7, 3};
// v1 is still read (sessions carry tokens across deploys) and still written for LSNs >= 2^56.
constexpr Format kV1{1, 8, 4};
constexpr size_t kMaxBytes = kV1.bytes();
static_assert(kV2.chars() == 15 && kV1.chars() == 18);

// Both run on every request: a lookup table instead of a search of the alphabet, and loops of
// constant length unrolled by ForEachIndex (GCC keeps them as loops at -O2, and loop control
// was half their instructions). Encoding works in standard base64 groups (3 bytes -> 4
// characters, one 24-bit integer each); decoding gathers the characters into two 64-bit
// numbers, which takes fewer instructions than regrouping them.
template <size_t N, typename Fn>
void ForEachIndex(Fn&& fn) {
  [&]<size_t... I>(std::index_sequence<I...>) { (fn(I), ...); }
  (std::make_index_sequence<N>{});
}

constexpr uint8_t kInvalid = 0xFF;
constexpr std::array<uint8_t, 256> kSextets = [] {
  std::array<uint8_t, 256> t{};
  t.fill(kInvalid);
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  return t;
}();

uint32_t Checksum(const uint8_t* payload, const Format& f) {
  const uint64_t h = XXH3_64bits(payload, 1 + f.lsn_bytes);
  return static_cast<uint32_t>(h) & static_cast<uint32_t>((uint64_t{1} << (8 * f.sum_bytes)) - 1);
}

// Little-endian loads and stores of the first n bytes (memcpy: one move on common machines).
uint64_t LoadLe(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}
void StoreLe(uint8_t* p, uint64_t v, size_t n) {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  std::memcpy(p, &v, n);
}

absl::Status Bad(std::string_view why) {
  return absl::InvalidArgumentError(base::StrCat("invalid session token: ", why));
}

template <const Format& F>
std::string EncodeAs(uint64_t lsn) {
  std::array<uint8_t, kMaxBytes + 2> b{};  // two zero bytes pad the last group
  b[0] = F.version;
  StoreLe(&b[1], lsn, F.lsn_bytes);
  StoreLe(&b[1 + F.lsn_bytes], Checksum(b.data(), F), F.sum_bytes);
  std::array<char, (kMaxBytes + 2) / 3 * 4> out;
  ForEachIndex<(F.bytes() + 2) / 3>([&](size_t g) {
    const uint32_t v = static_cast<uint32_t>(b[3 * g]) << 16 |
                       static_cast<uint32_t>(b[3 * g + 1]) << 8 | b[3 * g + 2];
    out[4 * g] = kAlphabet[v >> 18];
    out[4 * g + 1] = kAlphabet[(v >> 12) & 63];
    out[4 * g + 2] = kAlphabet[(v >> 6) & 63];
    out[4 * g + 3] = kAlphabet[v & 63];
  });
  return std::string(out.data(), F.chars());  // the padding's characters are dropped
}

void StoreBe(uint8_t* p, uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof(v));
}

template <const Format& F>
absl::StatusOr<SessionToken> DecodeAs(std::string_view text) {
  // The characters as numbers, 6 bits each, the first the most significant: the first ten in
  // `hi`, the rest in `lo`. Together: the token's bytes in order, then the last character's
  // unused low bits.
  constexpr size_t kHi = 10, kLo = F.chars() - kHi;
  static_assert(6 * kLo >= 64 - 6 * kHi && 6 * kLo <= 64);
  uint64_t hi = 0, lo = 0;
  uint8_t seen = 0;
  const auto gather = [&](uint64_t& into, size_t i) {
    const uint8_t sextet = kSextets[static_cast<uint8_t>(text[i])];
    seen |= sextet;
    into = into << 6 | sextet;
  };
  ForEachIndex<kHi>([&](size_t i) { gather(hi, i); });
  ForEachIndex<kLo>([&](size_t i) { gather(lo, kHi + i); });
  if ((seen & 0x80) != 0) return Bad("not base64url");
  std::array<uint8_t, 16> b;  // the bits again, as bytes, the first at the top
  StoreBe(&b[0], hi << (64 - 6 * kHi) | lo >> (6 * kLo - (64 - 6 * kHi)));
  StoreBe(&b[8], lo << (64 - (6 * kLo - (64 - 6 * kHi))));
  // The unused low bits of the last character land in the byte past the token: they must be
  // zero, so that a token has one spelling.
  static_assert(6 * F.chars() - 8 * F.bytes() < 8);
  if (b[F.bytes()] != 0) return Bad("not canonical");
  if (b[0] != F.version) return Bad("unknown version");
  if (LoadLe(&b[1 + F.lsn_bytes], F.sum_bytes) != Checksum(b.data(), F)) {
    return Bad("checksum mismatch (truncated or altered)");
  }
  const uint64_t lsn = LoadLe(&b[1], F.lsn_bytes);
  if (lsn > static_cast<uint64_t>(INT64_MAX)) return Bad("LSN out of range");
  return SessionToken{static_cast<int64_t>(lsn)};
}

// v1 is rare (old sessions, LSNs past 2^56): out of line, so that it does not spread the v2
// code that every request runs over more cache lines.
ABSL_ATTRIBUTE_NOINLINE std::string EncodeV1(uint64_t lsn) { return EncodeAs<kV1>(lsn); }
ABSL_ATTRIBUTE_NOINLINE absl::StatusOr<SessionToken> DecodeV1(std::string_view text) {
  return DecodeAs<kV1>(text);
}

}  // namespace

std::string EncodeToken(const SessionToken& token) {
  const uint64_t lsn = static_cast<uint64_t>(token.lsn);
  return lsn < (uint64_t{1} << (8 * kV2.lsn_bytes)) ? EncodeAs<kV2>(lsn) : EncodeV1(lsn);
}

absl::StatusOr<SessionToken> DecodeToken(std::string_view text) {
  if (text.size() == kV2.chars()) return DecodeAs<kV2>(text);
  if (text.empty()) return SessionToken{};
  if (text.size() == kV1.chars()) return DecodeV1(text);
  return Bad("wrong length");
}

SessionToken Merge(const SessionToken& a, const SessionToken& b) {
  return SessionToken{std::max(a.lsn, b.lsn)};
}

absl::StatusOr<std::string> TokenAfterCommit(std::string_view token,
                                             std::string_view wal_position) {
  CMO_ASSIGN_OR_RETURN(SessionToken t, DecodeToken(token));
  CMO_ASSIGN_OR_RETURN(int64_t position, base::ParsePgLsn(wal_position));
  // Every commit below the position: the app's own commit record ends at or before it.
  return EncodeToken(Merge(t, {std::max<int64_t>(0, position - 1)}));
}

}  // namespace cmo::shadow
