// A scanner for flat JSON objects — strings, integers, booleans and null, one level deep —
// which is what every change event is. It exists for speed: the applier decodes every change,
// and a general parser building a tree of allocated nodes cost a quarter of its CPU.
// It takes only the plainest JSON: anything else (escapes, non-ASCII bytes, fractions,
// nesting, more than kMaxMembers members) is declined, and the caller parses the text in full,
// so the two give the same answers on every input.
#ifndef CMO_SHADOW_INTERNAL_FLAT_JSON_H_
#define CMO_SHADOW_INTERNAL_FLAT_JSON_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cmo::shadow::internal {

struct FlatMember {
  enum class Kind { kString, kInt, kBool, kNull, kOther };
  std::string_view name;
  Kind kind = Kind::kNull;
  std::string_view text;  // kString: the characters between the quotes
  int64_t number = 0;     // kInt
  bool boolean = false;   // kBool
};

// The members of one object, in text order; views into the text (or into the parsed tree)
// they came from. Lookups take the last member of a name, as a full parser would.
class FlatObject {
 public:
  static constexpr int kMaxMembers = 24;
  // false when full: the caller declines the text.
  bool Add(const FlatMember& m);
  const FlatMember* Find(std::string_view name) const;

 private:
  std::array<FlatMember, kMaxMembers> members_;
  int size_ = 0;
};

// nullopt: declined (not necessarily invalid) — parse it in full.
std::optional<FlatObject> ScanFlatObject(std::string_view json);

// Appends `s` as a JSON string. Printable ASCII is copied as is; anything else is escaped by
// the general serializer, invalid UTF-8 replaced by U+FFFD.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace cmo::shadow::internal

#endif  // CMO_SHADOW_INTERNAL_FLAT_JSON_H_
