#include "shadow/session_token.h"

#include <xxhash.h>

#include <algorithm>
#include <array>

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

// Decoding runs on every request: a table instead of a search of the alphabet.
constexpr std::array<int8_t, 256> kSextets = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}();

uint32_t Checksum(const uint8_t* payload, const Format& f) {
  const uint64_t h = XXH3_64bits(payload, 1 + f.lsn_bytes);
  return static_cast<uint32_t>(h) & static_cast<uint32_t>((uint64_t{1} << (8 * f.sum_bytes)) - 1);
}

}  // namespace

std::string EncodeToken(const SessionToken& token) {
  const uint64_t lsn = static_cast<uint64_t>(token.lsn);
  const Format& f = lsn < (uint64_t{1} << (8 * kV2.lsn_bytes)) ? kV2 : kV1;
  std::array<uint8_t, kMaxBytes> b{};
  b[0] = f.version;
  for (size_t i = 0; i < f.lsn_bytes; ++i) b[1 + i] = static_cast<uint8_t>(lsn >> (8 * i));
  const uint32_t sum = Checksum(b.data(), f);
  for (size_t i = 0; i < f.sum_bytes; ++i) {
    b[1 + f.lsn_bytes + i] = static_cast<uint8_t>(sum >> (8 * i));
  }
  std::string out(f.chars(), '\0');
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (size_t i = 0; i < f.bytes(); ++i) {
    acc = (acc << 8) | b[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out[n++] = kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out[n] = kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

absl::StatusOr<SessionToken> DecodeToken(std::string_view text) {
  if (text.empty()) return SessionToken{};
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(base::StrCat("invalid session token: ", why));
  };
  const Format* f = text.size() == kV2.chars() ? &kV2 : text.size() == kV1.chars() ? &kV1 : nullptr;
  if (f == nullptr) return bad("wrong length");
  std::array<uint8_t, kMaxBytes> b{};
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (char c : text) {
    const int v = kSextets[static_cast<uint8_t>(c)];
    if (v < 0) return bad("not base64url");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      b[n++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  // The unused low bits of the last character must be zero: one token, one spelling.
  if ((acc & ((1u << bits) - 1)) != 0) return bad("not canonical");
  if (b[0] != f->version) return bad("unknown version");
  uint32_t sum = 0;
  for (size_t i = 0; i < f->sum_bytes; ++i) {
    sum |= static_cast<uint32_t>(b[1 + f->lsn_bytes + i]) << (8 * i);
  }
  if (sum != Checksum(b.data(), *f)) return bad("checksum mismatch (truncated or altered)");
  uint64_t lsn = 0;
  for (size_t i = 0; i < f->lsn_bytes; ++i) lsn |= static_cast<uint64_t>(b[1 + i]) << (8 * i);
  if (lsn > static_cast<uint64_t>(INT64_MAX)) return bad("LSN out of range");
  return SessionToken{static_cast<int64_t>(lsn)};
}

SessionToken Merge(const SessionToken& a, const SessionToken& b) {
  return SessionToken{std::max(a.lsn, b.lsn)};
}

}  // namespace cmo::shadow
