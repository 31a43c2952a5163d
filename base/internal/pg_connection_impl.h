// What base/postgres.cc and base/pg_replication.cc share of a libpq connection: the replication
// stream needs the raw PGconn, which the public header keeps out of sight.
#ifndef CMO_BASE_INTERNAL_PG_CONNECTION_IMPL_H_
#define CMO_BASE_INTERNAL_PG_CONNECTION_IMPL_H_

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/postgres.h"
#include "base/strings.h"

namespace cmo::base {

// SQLSTATE classes (PostgreSQL Appendix A) to what the caller should do next.
inline absl::StatusCode CodeFor(std::string_view sqlstate) {
  if (sqlstate.substr(0, 2) == "08" || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03" || sqlstate == "53300") {
    return absl::StatusCode::kUnavailable;  // connection lost, shutdown, too many connections
  }
  if (sqlstate == "40001" || sqlstate == "40P01") return absl::StatusCode::kAborted;
  if (sqlstate == "23505") return absl::StatusCode::kAlreadyExists;
  // RAISE EXCEPTION in a trigger: a refusal by the schema (the append-only audit log).
  if (sqlstate == "P0001") return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

inline std::string Trimmed(const char* message) {
  std::string m = message == nullptr ? "" : message;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

struct PgConnection::Impl {
  PGconn* conn = nullptr;
  std::string where;  // the redacted URI, for messages
  ~Impl() { PQfinish(conn); }

  // Connects to `uri` with the defaults a server fleet needs (postgres.cc says which).
  static absl::StatusOr<std::unique_ptr<Impl>> Open(const std::string& uri, bool replication);

  absl::Status ResultError(PGresult* res, std::string_view sql) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    // No SQLSTATE: the connection itself failed (the server went away mid-statement).
    const absl::StatusCode code =
        state == nullptr ? absl::StatusCode::kUnavailable : CodeFor(state);
    return absl::Status(code, StrCat(where, ": ", Trimmed(PQresultErrorMessage(res)),
                                     " (in: ", sql.substr(0, 120), ")"));
  }
};

}  // namespace cmo::base

#endif  // CMO_BASE_INTERNAL_PG_CONNECTION_IMPL_H_
