// Errors found in a plan file, each with its position, collected so that all of them are
// reported at once ("FILE:LINE:COL: message"), not only the first.
#ifndef CMO_MIGRATIONS_DIAGNOSTICS_H_
#define CMO_MIGRATIONS_DIAGNOSTICS_H_

#include <string>
#include <string_view>
#include <vector>

#include "migrations/plan.h"

namespace cmo::migrations {

struct Diagnostic {
  Position pos;
  std::string message;
};

// Not thread-safe; one per parse.
class Diagnostics {
 public:
  void Add(Position pos, std::string message) { items_.push_back({pos, std::move(message)}); }
  bool empty() const { return items_.empty(); }
  // Sorted by position, so the output reads top to bottom like the file.
  std::vector<Diagnostic> Sorted() const;

 private:
  std::vector<Diagnostic> items_;
};

// "FILE:LINE:COL: message"
std::string FormatDiagnostic(std::string_view file, const Diagnostic& d);

// The candidate closest to `word` by edit distance, if close enough to be a likely typo;
// returns "" otherwise.
std::string ClosestMatch(std::string_view word, const std::vector<std::string_view>& candidates);

// "; did you mean `x`?" or "; expected one of: a, b, c".
std::string SuggestionSuffix(std::string_view word,
                             const std::vector<std::string_view>& candidates);

}  // namespace cmo::migrations

#endif  // CMO_MIGRATIONS_DIAGNOSTICS_H_
