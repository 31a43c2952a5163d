#include "shadow/session_token.h"

#include <xxhash.h>

#include <algorithm>
#include <array>

#include "base/strings.h"

namespace cmo::shadow {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kPayload = 9;           // version + LSN
constexpr size_t kBytes = kPayload + 4;  // + checksum
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

uint32_t Checksum(const uint8_t* payload) {
  return static_cast<uint32_t>(XXH3_64bits(payload, kPayload));
}

// Decoding runs on every request: a table instead of a search of the alphabet.
constexpr std::array<int8_t, 256> kSextets = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}();

int Sextet(char c) { return kSextets[static_cast<uint8_t>(c)]; }

}  // namespace

std::string EncodeToken(const SessionToken& token) {
  std::array<uint8_t, kBytes> b{};
  b[0] = kVersion;
  const uint64_t lsn = static_cast<uint64_t>(token.lsn);
  for (int i = 0; i < 8; ++i) b[1 + i] = static_cast<uint8_t>(lsn >> (8 * i));
  const uint32_t sum = Checksum(b.data());
  for (int i = 0; i < 4; ++i) b[kPayload + i] = static_cast<uint8_t>(sum >> (8 * i));
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t byte : b) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

absl::StatusOr<SessionToken> DecodeToken(std::string_view text) {
  if (text.empty()) return SessionToken{};
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(base::StrCat("invalid session token: ", why));
  };
  if (text.size() != (kBytes * 8 + 5) / 6) return bad("wrong length");
  std::array<uint8_t, kBytes> b{};
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (char c : text) {
    const int v = Sextet(c);
    if (v < 0) return bad("not base64url");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n < kBytes) b[n++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  if (n != kBytes) return bad("wrong length");
  // The unused low bits of the last character must be zero: one token, one spelling.
  if ((acc & ((1u << bits) - 1)) != 0) return bad("not canonical");
  if (b[0] != kVersion) return bad("unknown version");
  uint32_t sum = 0;
  for (int i = 0; i < 4; ++i) sum |= static_cast<uint32_t>(b[kPayload + i]) << (8 * i);
  if (sum != Checksum(b.data())) return bad("checksum mismatch (truncated or altered)");
  uint64_t lsn = 0;
  for (int i = 0; i < 8; ++i) lsn |= static_cast<uint64_t>(b[1 + i]) << (8 * i);
  if (lsn > static_cast<uint64_t>(INT64_MAX)) return bad("LSN out of range");
  return SessionToken{static_cast<int64_t>(lsn)};
}

SessionToken Merge(const SessionToken& a, const SessionToken& b) {
  return SessionToken{std::max(a.lsn, b.lsn)};
}

}  // namespace cmo::shadow
