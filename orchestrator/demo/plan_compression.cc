#include "orchestrator/demo/plan_compression.h"

#include <algorithm>
#include <cmath>
#include <regex>

#include "base/strings.h"
#include "base/units.h"

namespace cmo::orchestrator {
namespace {

// Replaces every match of `re` in `line`, the first group kept and the second rewritten.
template <typename Fn>
absl::StatusOr<std::string> ReplaceAll(const std::string& line, const std::regex& re, Fn rewrite) {
  std::string out;
  auto begin = std::sregex_iterator(line.begin(), line.end(), re);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    auto value = rewrite(m[2].str());
    if (!value.ok()) return value.status();
    out += line.substr(last, static_cast<size_t>(m.position(0)) - last);
    out += m[1].str() + *value;
    last = static_cast<size_t>(m.position(0) + m.length(0));
  }
  return out + line.substr(last);
}

}  // namespace

absl::StatusOr<std::string> CompressPlan(std::string_view yaml, const Compression& c) {
  static const std::regex kHold(R"((hold:\s*)([0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d)))");
  static const std::regex kMinSamples(R"((min_samples:\s*)([0-9]+))");
  static const std::regex kShadowSamples(R"((shadow_samples\s*>=?\s*)([0-9]+))");
  auto hold = [&](const std::string& text) -> absl::StatusOr<std::string> {
    auto d = base::ParseDuration(text);
    if (!d.ok()) return d.status();
    const int64_t secs = std::max<int64_t>(
        1, std::llround(absl::ToDoubleSeconds(*d) / std::max(1.0, c.time_factor)));
    return base::StrCat(secs, "s");
  };
  auto scaled = [](double factor) {
    return [factor](const std::string& text) -> absl::StatusOr<std::string> {
      const double n = std::stod(text);
      return base::StrCat(std::max<int64_t>(1, std::llround(n / std::max(1.0, factor))));
    };
  };
  std::string out =
      base::StrCat("# Compressed by `cmo demo`: holds / ", std::llround(c.time_factor),
                   ", shadow_samples gates / ", std::llround(c.count_factor), ", min_samples / ",
                   std::llround(c.min_samples_factor), ".\n");
  size_t start = 0;
  while (start <= yaml.size()) {
    size_t end = yaml.find('\n', start);
    if (end == std::string_view::npos) end = yaml.size();
    std::string line(yaml.substr(start, end - start));
    const size_t hash = line.find('#');
    std::string comment = hash == std::string::npos ? "" : line.substr(hash);
    line = hash == std::string::npos ? line : line.substr(0, hash);
    auto a = ReplaceAll(line, kHold, hold);
    if (!a.ok()) return a.status();
    auto b = ReplaceAll(*a, kMinSamples, scaled(c.min_samples_factor));
    if (!b.ok()) return b.status();
    auto d = ReplaceAll(*b, kShadowSamples, scaled(c.count_factor));
    if (!d.ok()) return d.status();
    out += *d + comment;
    if (end == yaml.size()) break;
    out += "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace cmo::orchestrator
