#include "shadow/comparator.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_split.h"
#include "base/json.h"
#include "base/strings.h"
#include "nlohmann/json.hpp"

namespace cmo::shadow {
namespace {

using Json = nlohmann::json;

std::optional<Json> ParseJson(std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

void Erase(Json& j, std::string_view dotted) {
  Json* at = &j;
  std::vector<std::string> parts = absl::StrSplit(base::ToAbsl(dotted), '.');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!at->is_object() || !at->contains(parts[i])) return;
    at = &(*at)[parts[i]];
  }
  if (at->is_object()) at->erase(parts.back());
}

// Canonical, order-free form of a JSON array: its distinct elements, sorted by their dump.
std::optional<std::vector<std::string>> AsSet(std::string_view text) {
  std::optional<Json> j = ParseJson(text);
  if (!j.has_value() || !j->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const Json& e : *j) out.push_back(base::JsonText(e));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

bool Comparator::Equal(std::string_view a, std::string_view b) const {
  if (a == b) return true;
  switch (kind) {
    case ComparatorKind::kExact:
      return false;
    case ComparatorKind::kJson: {
      std::optional<Json> ja = ParseJson(a);
      std::optional<Json> jb = ParseJson(b);
      if (!ja.has_value() || !jb.has_value()) return false;
      for (const std::string& f : ignored_fields) {
        Erase(*ja, f);
        Erase(*jb, f);
      }
      return *ja == *jb;
    }
    case ComparatorKind::kSet: {
      auto sa = AsSet(a);
      auto sb = AsSet(b);
      return sa.has_value() && sb.has_value() && *sa == *sb;
    }
  }
  return false;
}

absl::StatusOr<Comparator> ParseComparator(std::string_view spec) {
  if (spec == "exact") return Comparator{};
  if (spec == "set") return Comparator{ComparatorKind::kSet, {}};
  if (spec == "json") return Comparator{ComparatorKind::kJson, {}};
  constexpr std::string_view kJsonIgnore = "json:ignore=";
  if (spec.substr(0, kJsonIgnore.size()) == kJsonIgnore) {
    Comparator c{ComparatorKind::kJson, {}};
    for (absl::string_view f : absl::StrSplit(base::ToAbsl(spec.substr(kJsonIgnore.size())), ',')) {
      if (f.empty()) {
        return absl::InvalidArgumentError(base::StrCat(
            "comparator \"", spec, "\" has an empty field name; write json:ignore=a,b.c"));
      }
      c.ignored_fields.emplace_back(f);
    }
    return c;
  }
  return absl::InvalidArgumentError(
      base::StrCat("unknown comparator \"", spec,
                   "\"; use exact, set, json or json:ignore=field,other.field"));
}

}  // namespace cmo::shadow
