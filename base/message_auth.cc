#include "base/message_auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/strings.h"

namespace cmo::base {
namespace {

constexpr std::string_view kSigPrefix = ",\"sig\":\"";
constexpr size_t kMacHex = 64;
constexpr char kHex[] = "0123456789abcdef";

std::string Hex(const unsigned char* data, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}

bool Unhex(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  out->clear();
  auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

std::string Mac(std::string_view secret, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return Hex(mac, len);
}

bool IsKeyId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::string MessageKeyPath(const std::string& state_dir) { return state_dir + "/message-key"; }

std::string HmacSha256Hex(std::string_view secret, std::string_view message) {
  return Mac(secret, message);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return Hex(digest, len);
}

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return absl::InternalError("the system's random generator failed; cannot make a secret");
  }
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::shared_ptr<const KeyRing> KeyRing::FromKeys(
    std::vector<std::pair<std::string, std::string>> keys) {
  return std::shared_ptr<const KeyRing>(new KeyRing(std::move(keys)));
}

absl::StatusOr<std::shared_ptr<const KeyRing>> KeyRing::Load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(StrCat(path, ": no message key file (", std::strerror(errno),
                                      "); `cmo serve` creates one in its state dir — copy it "
                                      "to every host that runs clients"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::InvalidArgumentError(StrCat(path,
                                             ": the message key file is readable by others; "
                                             "chmod 600 it"));
  }
  std::ifstream in(path);
  std::vector<std::pair<std::string, std::string>> keys;
  std::string line;
  int n = 0;
  while (std::getline(in, line) && n < 1000) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string id, hex, extra;
    fields >> id >> hex >> extra;
    std::string secret;
    if (!IsKeyId(id) || !Unhex(hex, &secret) || secret.size() < 16 || !extra.empty()) {
      return absl::InvalidArgumentError(
          StrCat(path, ":", n,
                 ": expected `ID HEX-SECRET` (ID of [a-z0-9_-], a secret of at "
                 "least 32 hex digits)"));
    }
    keys.emplace_back(std::move(id), std::move(secret));
  }
  if (keys.empty()) {
    return absl::FailedPreconditionError(StrCat(path, ": holds no key"));
  }
  return FromKeys(std::move(keys));
}

absl::StatusOr<std::shared_ptr<const KeyRing>> KeyRing::LoadOrCreate(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) {
    // Written whole to a private temp file, then linked into place: link() never replaces an
    // existing file, so of several processes starting at once one key wins, and none ever
    // reads a half-written file.
    const std::string tmp = StrCat(path, ".tmp.", ::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      return absl::FailedPreconditionError(StrCat("cannot create ", path, ": ",
                                                  std::strerror(errno),
                                                  "; check that the state dir is writable"));
    }
    unsigned char secret[32];
    const bool random = RAND_bytes(secret, sizeof(secret)) == 1;
    const std::string line = StrCat("k1 ", Hex(secret, sizeof(secret)), "\n");
    const bool ok = random &&
                    ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    const bool linked = ok && (::link(tmp.c_str(), path.c_str()) == 0 || errno == EEXIST);
    ::unlink(tmp.c_str());
    if (!linked) {
      return absl::FailedPreconditionError(StrCat("cannot write ", path, "; disk full?"));
    }
  }
  return Load(path);
}

std::string KeyRing::Sign(std::string_view json_object) const {
  const auto& [id, secret] = keys_.front();
  std::string out(json_object.substr(0, json_object.size() - 1));
  StrAppend(&out, kSigPrefix, id, ":", Mac(secret, json_object), "\"}");
  return out;
}

absl::StatusOr<std::string> KeyRing::Verify(std::string_view text) const {
  const size_t at = text.rfind(kSigPrefix);
  if (at == std::string_view::npos || text.size() < at + kSigPrefix.size() + kMacHex + 3 ||
      text.substr(text.size() - 2) != "\"}") {
    return absl::UnauthenticatedError("unsigned message");
  }
  const std::string_view sig =
      text.substr(at + kSigPrefix.size(), text.size() - 2 - at - kSigPrefix.size());
  const size_t colon = sig.find(':');
  if (colon == std::string_view::npos || sig.size() - colon - 1 != kMacHex) {
    return absl::UnauthenticatedError("malformed signature");
  }
  const std::string_view id = sig.substr(0, colon);
  const std::string_view mac = sig.substr(colon + 1);
  std::string message(text.substr(0, at));
  message.push_back('}');
  for (const auto& [key_id, secret] : keys_) {
    if (key_id != id) continue;
    const std::string want = Mac(secret, message);
    if (CRYPTO_memcmp(want.data(), mac.data(), kMacHex) == 0) return message;
  }
  return absl::UnauthenticatedError(
      StrCat("bad signature (key \"", id.size() <= 32 ? id : "?", "\")"));
}

}  // namespace cmo::base
