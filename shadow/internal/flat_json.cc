#include "shadow/internal/flat_json.h"

#include <nlohmann/json.hpp>

namespace cmo::shadow::internal {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// Bytes a string may hold without escaping or UTF-8 validation.
bool IsPlain(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
}

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  void SkipSpace() {
    while (i_ < s_.size() && IsSpace(s_[i_])) ++i_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ == s_.size();
  }
  std::optional<std::string_view> String() {
    if (!Eat('"')) return std::nullopt;
    const size_t start = i_;
    while (i_ < s_.size() && IsPlain(s_[i_])) ++i_;
    if (i_ == s_.size() || s_[i_] != '"') return std::nullopt;  // escape, control or non-ASCII
    return s_.substr(start, i_++ - start);
  }
  bool Value(FlatMember& m) {
    SkipSpace();
    if (i_ == s_.size()) return false;
    const char c = s_[i_];
    if (c == '"') {
      auto text = String();
      if (!text) return false;
      m.kind = FlatMember::Kind::kString;
      m.text = *text;
      return true;
    }
    if (c == '-' || IsDigit(c)) return Integer(m);
    for (auto [word, kind, value] : {std::tuple{"true", FlatMember::Kind::kBool, true},
                                     std::tuple{"false", FlatMember::Kind::kBool, false},
                                     std::tuple{"null", FlatMember::Kind::kNull, false}}) {
      const std::string_view w = word;
      if (s_.substr(i_, w.size()) == w) {
        i_ += w.size();
        m.kind = kind;
        m.boolean = value;
        return true;
      }
    }
    return false;
  }

 private:
  // -?(0|[1-9][0-9]*) and at most 18 digits, so it fits int64 without overflow checks.
  // Fractions and exponents are declined.
  bool Integer(FlatMember& m) {
    const bool negative = s_[i_] == '-';
    if (negative) ++i_;
    const size_t start = i_;
    while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
    const size_t digits = i_ - start;
    if (digits == 0 || digits > 18 || (digits > 1 && s_[start] == '0')) return false;
    if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) return false;
    int64_t v = 0;
    for (size_t d = start; d < i_; ++d) v = v * 10 + (s_[d] - '0');
    m.kind = FlatMember::Kind::kInt;
    m.number = negative ? -v : v;
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

bool FlatObject::Add(const FlatMember& m) {
  if (size_ == kMaxMembers) return false;
  members_[static_cast<size_t>(size_++)] = m;
  return true;
}

const FlatMember* FlatObject::Find(std::string_view name) const {
  for (int i = size_ - 1; i >= 0; --i) {
    if (members_[static_cast<size_t>(i)].name == name) return &members_[static_cast<size_t>(i)];
  }
  return nullptr;
}

std::optional<FlatObject> ScanFlatObject(std::string_view json) {
  Scanner in(json);
  FlatObject out;
  if (!in.Eat('{')) return std::nullopt;
  if (!in.Eat('}')) {
    do {
      FlatMember m;
      auto name = in.String();
      if (!name || !in.Eat(':') || !in.Value(m)) return std::nullopt;
      m.name = *name;
      if (!out.Add(m)) return std::nullopt;
    } while (in.Eat(','));
    if (!in.Eat('}')) return std::nullopt;
  }
  if (!in.AtEnd()) return std::nullopt;
  return out;
}

void AppendJsonString(std::string& out, std::string_view s) {
  bool plain = true;
  for (char c : s) plain &= IsPlain(c);
  if (plain) {
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return;
  }
  out +=
      nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cmo::shadow::internal
