// Session tokens: the opaque string an app carries (cookie, header) so that a session's later
// reads see at least what it has already written or read. LSNs are assigned by the single
// primary, so one number — the highest LSN the session has observed — serves read-your-writes,
// monotonic reads and causal order (everything it saw, and all that preceded it, is <= it).
//
// Format v2 (base64url, no padding, 15 chars): [0x02][LSN, 7 bytes little-endian]
// [XXH3_64 of the first 8 bytes, low 3 bytes]. LSNs from 2^56 on are written in format v1
// (18 chars: [0x01][LSN, 8 bytes][low 4 bytes of XXH3_64 of the first 9]); both are read, so
// tokens issued before an upgrade stay valid. The checksum catches truncation and corruption,
// not forgery: a forged token can only make its own session read more strongly.
#ifndef CMO_SHADOW_SESSION_TOKEN_H_
#define CMO_SHADOW_SESSION_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cmo::shadow {

struct SessionToken {
  int64_t lsn = 0;  // the highest LSN this session has observed; 0 = nothing yet
  bool operator==(const SessionToken&) const = default;
};

std::string EncodeToken(const SessionToken& token);
// "" decodes to the empty token. Anything malformed is kInvalidArgument (never throws).
absl::StatusOr<SessionToken> DecodeToken(std::string_view text);
// What a session has observed after seeing both.
SessionToken Merge(const SessionToken& a, const SessionToken& b);

// Change data capture (shadow/cdc_relay.h): the session's token after the app's own
// transaction on the source database committed, from the WAL position read on the same
// connection right after the commit (`SELECT pg_current_wal_lsn()`, e.g. "16/B374D848"). CDC
// versions are commit positions, so a replica reaches the result once it holds that commit and
// everything before it. kInvalidArgument for a malformed token or position.
absl::StatusOr<std::string> TokenAfterCommit(std::string_view token, std::string_view wal_position);

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_SESSION_TOKEN_H_
