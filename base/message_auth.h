// HMAC-SHA256 signatures for the messages cmo trusts on Kafka (flag snapshots, telemetry
// windows, change-log heartbeats). Anyone who can produce to the cluster can write to those
// topics; only holders of the shared key can sign. The key ring is a file (0600), one key a
// line, `ID HEX-SECRET`: the first line signs, every line verifies, so a key is rotated by
// adding the new one second, then moving it first everywhere, then deleting the old one.
//
// A signed message is the JSON object it signs with one member appended last:
//   {"v":1,...,"sig":"ID:64-hex-digits"}
// so it stays a JSON object for kcat and third-party readers, and the signed bytes are exactly
// the message without `,"sig":"..."`.
#ifndef CMO_BASE_MESSAGE_AUTH_H_
#define CMO_BASE_MESSAGE_AUTH_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cmo::base {

// Immutable; thread-safe.
class KeyRing {
 public:
  // kNotFound when `path` does not exist; kInvalidArgument naming FILE:LINE for a bad line or a
  // file that others may read; kFailedPrecondition when it holds no key.
  static absl::StatusOr<std::shared_ptr<const KeyRing>> Load(const std::string& path);
  // Load, creating the file (0600) with one random 256-bit key first if it does not exist.
  static absl::StatusOr<std::shared_ptr<const KeyRing>> LoadOrCreate(const std::string& path);
  // From (id, secret) pairs; the first signs (tests).
  static std::shared_ptr<const KeyRing> FromKeys(
      std::vector<std::pair<std::string, std::string>> keys);

  // `json_object` (text ending in '}') with the "sig" member appended.
  std::string Sign(std::string_view json_object) const;
  // The message as signed (without its "sig" member) when the signature is one of this ring's
  // keys; kUnauthenticated ("unsigned" or "bad signature") otherwise.
  absl::StatusOr<std::string> Verify(std::string_view signed_text) const;
  const std::string& signing_key_id() const { return keys_.front().first; }

 private:
  explicit KeyRing(std::vector<std::pair<std::string, std::string>> keys)
      : keys_(std::move(keys)) {}
  std::vector<std::pair<std::string, std::string>> keys_;  // id -> secret bytes
};

// The key ring of a state dir (STATE_DIR/message-key), created by `cmo serve`.
std::string MessageKeyPath(const std::string& state_dir);

// HMAC-SHA256 of `message` under `secret`, as 64 lowercase hex digits (webhook signatures).
std::string HmacSha256Hex(std::string_view secret, std::string_view message);

// SHA-256 of `data`, as 64 lowercase hex digits (API tokens are stored as this, never as is).
std::string Sha256Hex(std::string_view data);

// `bytes` bytes from the system's cryptographic generator, as hex; an error if it has none.
absl::StatusOr<std::string> RandomHex(size_t bytes);

}  // namespace cmo::base

#endif  // CMO_BASE_MESSAGE_AUTH_H_
