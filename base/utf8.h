// UTF-8 checks for text that crosses a trust boundary (HTTP paths, headers, CLI arguments,
// Kafka messages): invalid bytes are refused before they are stored, because stored text is
// later written out as JSON, and a JSON encoder must not meet bytes it cannot encode.
#ifndef CMO_BASE_UTF8_H_
#define CMO_BASE_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace cmo::base {

// The length of the well-formed UTF-8 sequence starting at `s[i]` (RFC 3629: no overlong forms,
// no surrogates, <= U+10FFFF), or 0 when the bytes there are not one.
inline size_t Utf8SequenceAt(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    const unsigned char ck = static_cast<unsigned char>(s[i + k]);
    if (ck < 0x80 || ck > 0xBF) return 0;
  }
  return len;
}

// Whether `s` is well-formed UTF-8. NUL bytes are well-formed UTF-8; callers that must refuse
// them say so themselves.
inline bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceAt(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// Whether `s` is valid UTF-8 without ASCII control characters (tab allowed): what a name, an
// actor or a reason typed by a person can hold.
inline bool IsPrintableUtf8(std::string_view s) {
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
  }
  return IsValidUtf8(s);
}

// `s` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD, for echoing
// untrusted text back in an error message.
inline std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceAt(s, i);
    if (len == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace cmo::base

#endif  // CMO_BASE_UTF8_H_
