#include "base/postgres.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "base/internal/pg_connection_impl.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::base {
std::string RedactPgUri(std::string_view uri) {
  std::string out(uri);
  // user:PASSWORD@host
  const size_t scheme = out.find("://");
  const size_t at = out.find('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    const size_t colon = out.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  // ...?password=PASSWORD&...
  const size_t query = out.find('?');
  for (size_t p = query; p != std::string::npos && p < out.size(); p = out.find('&', p + 1)) {
    if (out.compare(p + 1, 9, "password=") != 0) continue;
    const size_t value = p + 10;
    const size_t end = std::min(out.find('&', value), out.size());
    out.replace(value, end - value, "***");
  }
  return out;
}

namespace {

// A statement's parameters the way libpq takes them.
struct BoundParams {
  BoundParams(const std::vector<PgParam>& params, const std::vector<bool>& binary) {
    values.reserve(params.size());
    for (const PgParam& p : params) values.push_back(p.has_value() ? p->c_str() : nullptr);
    if (binary.empty()) return;
    for (size_t i = 0; i < params.size(); ++i) {
      formats.push_back(i < binary.size() && binary[i] ? 1 : 0);
      lengths.push_back(params[i].has_value() ? static_cast<int>(params[i]->size()) : 0);
    }
  }
  int count() const { return static_cast<int>(values.size()); }
  const int* length_data() const { return lengths.empty() ? nullptr : lengths.data(); }
  const int* format_data() const { return formats.empty() ? nullptr : formats.data(); }

  std::vector<const char*> values;
  std::vector<int> lengths, formats;  // empty: all text (libpq then needs no lengths)
};

}  // namespace

struct PgResult::Impl {
  PGresult* res = nullptr;
  ~Impl() { PQclear(res); }
};

PgResult::PgResult(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgResult::PgResult(PgResult&&) noexcept = default;
PgResult& PgResult::operator=(PgResult&&) noexcept = default;
PgResult::~PgResult() = default;
int PgResult::rows() const { return PQntuples(impl_->res); }
int PgResult::columns() const { return PQnfields(impl_->res); }
bool PgResult::IsNull(int row, int col) const { return PQgetisnull(impl_->res, row, col) != 0; }
std::string_view PgResult::Text(int row, int col) const {
  return {PQgetvalue(impl_->res, row, col), static_cast<size_t>(PQgetlength(impl_->res, row, col))};
}

absl::StatusOr<int64_t> PgResult::Int(int row, int col) const {
  const std::string_view t = Text(row, col);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size()) {
    return absl::InternalError(
        StrCat("column ", PQfname(impl_->res, col), " is not an integer: \"", t, "\""));
  }
  return v;
}

std::string_view PgResult::ColumnName(int col) const { return PQfname(impl_->res, col); }
uint32_t PgResult::ColumnType(int col) const { return PQftype(impl_->res, col); }

int64_t PgResult::affected() const {
  const char* n = PQcmdTuples(impl_->res);
  return n == nullptr || *n == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

PgConnection::PgConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgConnection::~PgConnection() = default;

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& uri) {
  CMO_ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, Impl::Open(uri, /*replication=*/false));
  return std::unique_ptr<PgConnection>(new PgConnection(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<PgConnection::Impl>> PgConnection::Impl::Open(const std::string& uri,
                                                                             bool replication) {
  auto impl = std::make_unique<Impl>();
  impl->where = RedactPgUri(uri);
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(uri.c_str(), &error);
  if (parsed == nullptr) {
    const std::string why = Trimmed(error);
    PQfreemem(error);
    return absl::InvalidArgumentError(StrCat("\"", impl->where,
                                             "\" is not a PostgreSQL connection URI (", why,
                                             "); use postgresql://USER@HOST:PORT/DB"));
  }
  PQconninfoFree(parsed);
  // Defaults a server fleet needs and libpq lacks: a bounded connect (libpq waits forever) and
  // TCP keepalives plus a user timeout, so a peer that vanished behind a partition surfaces as
  // kUnavailable in seconds instead of a query hanging until the kernel gives up (~15 min).
  // Keywords are applied in order, so whatever the URI itself says wins.
  // A replication connection (`replication=database`) speaks the walsender protocol to the
  // database the URI names (base/pg_replication.h).
  const char* const keywords[] = {"connect_timeout",
                                  "keepalives_idle",
                                  "keepalives_interval",
                                  "keepalives_count",
                                  "tcp_user_timeout",
                                  "application_name",
                                  "dbname",
                                  replication ? "replication" : nullptr,
                                  nullptr};
  const char* const values[] = {"5",   "10",        "3",        "3",    "15000",
                                "cmo", uri.c_str(), "database", nullptr};
  impl->conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (PQstatus(impl->conn) != CONNECTION_OK) {
    return absl::UnavailableError(StrCat("cannot connect to ", impl->where, ": ",
                                         Trimmed(PQerrorMessage(impl->conn)),
                                         "; is the server up and reachable?"));
  }
  // Server notices (a WARNING on a ROLLBACK with no transaction, say) would go to the app's
  // stderr by default; errors come back as Status, notices are dropped.
  PQsetNoticeProcessor(
      impl->conn, [](void*, const char*) {}, nullptr);
  return impl;
}

absl::StatusOr<PgResult> PgConnection::Exec(std::string_view sql,
                                            const std::vector<PgParam>& params,
                                            const std::vector<uint32_t>& types) {
  const std::string text(sql);
  return ExecBound(text, params, {}, types);
}

absl::StatusOr<PgResult> PgConnection::Exec(const PgStatement& statement) {
  return ExecBound(statement.sql, statement.params, statement.binary, {});
}

absl::StatusOr<PgResult> PgConnection::ExecBound(const std::string& sql,
                                                 const std::vector<PgParam>& params,
                                                 const std::vector<bool>& binary,
                                                 const std::vector<uint32_t>& types) {
  if (impl_->conn == nullptr)
    return absl::UnavailableError(StrCat(impl_->where, ": connection lost"));
  const BoundParams bound(params, binary);
  static_assert(sizeof(Oid) == sizeof(uint32_t));
  const Oid* oids = types.size() == bound.values.size() && !types.empty()
                        ? reinterpret_cast<const Oid*>(types.data())
                        : nullptr;
  auto result = std::make_unique<PgResult::Impl>();
  result->res = PQexecParams(impl_->conn, sql.c_str(), bound.count(), oids, bound.values.data(),
                             bound.length_data(), bound.format_data(),
                             /*resultFormat=*/0);
  const ExecStatusType st = PQresultStatus(result->res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return impl_->ResultError(result->res, sql);
  }
  return PgResult(std::move(result));
}

absl::StatusOr<std::vector<PgResult>> PgConnection::ExecPipeline(
    const std::vector<PgStatement>& statements) {
  PGconn* conn = impl_->conn;
  // Anything unexpected leaves the protocol state unknown: drop the connection (ok() turns
  // false, so its owner reconnects) rather than guess.
  auto broken = [&](std::string_view why) {
    PQfinish(impl_->conn);
    impl_->conn = nullptr;
    return absl::UnavailableError(StrCat(impl_->where, ": ", why));
  };
  if (conn == nullptr || PQenterPipelineMode(conn) != 1) return broken("cannot start a pipeline");
  for (const PgStatement& st : statements) {
    const BoundParams bound(st.params, st.binary);
    if (PQsendQueryParams(conn, st.sql.c_str(), bound.count(), nullptr, bound.values.data(),
                          bound.length_data(), bound.format_data(), /*resultFormat=*/0) != 1) {
      return broken(Trimmed(PQerrorMessage(conn)));
    }
  }
  if (PQpipelineSync(conn) != 1) return broken(Trimmed(PQerrorMessage(conn)));
  std::vector<PgResult> out;
  out.reserve(statements.size());
  absl::Status first_error;
  for (const PgStatement& st : statements) {
    auto result = std::make_unique<PgResult::Impl>();
    result->res = PQgetResult(conn);
    if (result->res == nullptr) return broken(Trimmed(PQerrorMessage(conn)));
    const ExecStatusType status = PQresultStatus(result->res);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      out.push_back(PgResult(std::move(result)));
    } else if (status != PGRES_PIPELINE_ABORTED && first_error.ok()) {
      first_error = impl_->ResultError(result->res, st.sql);
    }
    if (PGresult* end = PQgetResult(conn); end != nullptr) {  // each query ends with a null
      PQclear(end);
      return broken("unexpected extra result in a pipeline");
    }
  }
  PGresult* sync = PQgetResult(conn);
  const bool synced = sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!synced || PQexitPipelineMode(conn) != 1) {
    if (!first_error.ok() && PQstatus(conn) != CONNECTION_OK) return first_error;
    return broken("pipeline did not end in sync");
  }
  if (!first_error.ok()) return first_error;
  return out;
}

absl::Status PgConnection::ExecScript(std::string_view sql) {
  const std::string text(sql);
  PGresult* res = PQexec(impl_->conn, text.c_str());
  const ExecStatusType st = PQresultStatus(res);
  absl::Status out = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
                         ? absl::OkStatus()
                         : impl_->ResultError(res, sql);
  PQclear(res);
  return out;
}

bool PgConnection::ok() const {
  return impl_->conn != nullptr && PQstatus(impl_->conn) == CONNECTION_OK;
}

}  // namespace cmo::base
