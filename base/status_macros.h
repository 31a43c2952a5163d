// Status plumbing that Debian's Abseil (20220623) lacks: early return on error, assign-or-return,
// and a fatal check for broken invariants (never for bad input, which gets a Status).
#ifndef CMO_BASE_STATUS_MACROS_H_
#define CMO_BASE_STATUS_MACROS_H_

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CMO_STATUS_CONCAT_INNER_(a, b) a##b
#define CMO_STATUS_CONCAT_(a, b) CMO_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define CMO_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status cmo_status_ = (expr);       \
    if (!cmo_status_.ok()) return cmo_status_; \
  } while (false)

// `CMO_ASSIGN_OR_RETURN(auto x, MakeX());` declares/assigns x from an absl::StatusOr, or returns
// its error status from the enclosing function.
#define CMO_ASSIGN_OR_RETURN(lhs, expr) \
  CMO_ASSIGN_OR_RETURN_IMPL_(CMO_STATUS_CONCAT_(cmo_statusor_, __LINE__), lhs, expr)
#define CMO_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)    \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

// Aborts with file:line when an internal invariant is broken. Not for input validation.
#define CMO_CHECK(cond)                                                                 \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: CMO_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)

#endif  // CMO_BASE_STATUS_MACROS_H_
