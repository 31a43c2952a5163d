// A throwaway self-signed certificate for tests that serve HTTPS: P-256 key, valid for a day,
// naming localhost and 127.0.0.1. Made with OpenSSL's API (no `openssl` program needed).
#ifndef CMO_TESTS_FAKES_TLS_CERT_H_
#define CMO_TESTS_FAKES_TLS_CERT_H_

#include <string>

#include "absl/status/status.h"

namespace cmo::testing {

// Writes the certificate (PEM) to `cert_path` and its private key (PEM) to `key_path`.
absl::Status WriteSelfSignedCert(const std::string& cert_path, const std::string& key_path);

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_TLS_CERT_H_
