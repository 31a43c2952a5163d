#include "migrations/diagnostics.h"

#include <algorithm>

#include "base/strings.h"

namespace cmo::migrations {

std::vector<Diagnostic> Diagnostics::Sorted() const {
  std::vector<Diagnostic> out = items_;
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.column < b.pos.column;
  });
  return out;
}

std::string FormatDiagnostic(std::string_view file, const Diagnostic& d) {
  return base::StrCat(file, ":", d.pos.line, ":", d.pos.column, ": ", d.message);
}

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string ClosestMatch(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (std::string_view c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return std::string(best);
}

std::string SuggestionSuffix(std::string_view word,
                             const std::vector<std::string_view>& candidates) {
  const std::string match = ClosestMatch(word, candidates);
  if (!match.empty()) return base::StrCat("; did you mean `", match, "`?");
  return base::StrCat("; expected one of: ", base::StrJoin(candidates, ", "));
}

}  // namespace cmo::migrations
