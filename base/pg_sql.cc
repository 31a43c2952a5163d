#include "base/pg_sql.h"

#include <cctype>

#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::base {
namespace {

// PostgreSQL type OIDs (pg_type.dat) of what a statement binds.
constexpr uint32_t kInt8Oid = 20;
constexpr uint32_t kTextOid = 25;

// The key of the advisory lock every writer of a control state takes ("cmo" in ASCII).
constexpr std::string_view kWritersLock = "SELECT pg_advisory_xact_lock(6516079)";

}  // namespace

std::string PgParameters(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  bool quoted = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'') quoted = !quoted;
    const bool numbered = i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9';
    out.push_back(c == '?' && !quoted && numbered ? '$' : c);
  }
  return out;
}

namespace {

bool IsWrite(std::string_view sql) {
  const size_t start = sql.find_first_not_of(" \t\n");
  if (start == std::string_view::npos) return false;
  std::string word;
  for (size_t i = start; i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])); ++i) {
    word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
  }
  return word == "INSERT" || word == "UPDATE" || word == "DELETE";
}

}  // namespace

PgSqlStatement::PgSqlStatement(PgSqlDb& db, std::string sql)
    : db_(db), sql_(std::move(sql)), writes_(IsWrite(sql_)) {}

void PgSqlStatement::Set(int index, PgParam value, uint32_t type) {
  if (index < 1) return;
  const size_t i = static_cast<size_t>(index - 1);
  if (params_.size() <= i) {
    params_.resize(i + 1);
    // A parameter the statement never binds is one it does not use: typed, so the server
    // accepts it unused.
    types_.resize(i + 1, kTextOid);
  }
  params_[i] = std::move(value);
  types_[i] = type;
}

PgSqlStatement& PgSqlStatement::Bind(int index, int64_t value) {
  Set(index, std::to_string(value), kInt8Oid);
  return *this;
}
PgSqlStatement& PgSqlStatement::Bind(int index, std::string_view text) {
  Set(index, std::string(text), kTextOid);
  return *this;
}
PgSqlStatement& PgSqlStatement::BindNull(int index) {
  Set(index, std::nullopt, 0);  // the type the statement gives it
  return *this;
}

absl::StatusOr<bool> PgSqlStatement::Step() {
  if (!result_.has_value()) {
    CMO_ASSIGN_OR_RETURN(PgResult r, db_.ExecStatement(sql_, params_, types_, writes_));
    result_.emplace(std::move(r));
    row_ = -1;
  }
  ++row_;
  return row_ < result_->rows();
}

absl::Status PgSqlStatement::Run() {
  CMO_ASSIGN_OR_RETURN(PgResult r, db_.ExecStatement(sql_, params_, types_, writes_));
  (void)r;
  return absl::OkStatus();
}

int64_t PgSqlStatement::ColumnInt(int column) const {
  if (!result_.has_value() || result_->IsNull(row_, column)) return 0;
  absl::StatusOr<int64_t> v = result_->Int(row_, column);
  return v.ok() ? *v : 0;
}
std::string PgSqlStatement::ColumnText(int column) const {
  return result_.has_value() ? std::string(result_->Text(row_, column)) : std::string();
}
bool PgSqlStatement::ColumnIsNull(int column) const {
  return !result_.has_value() || result_->IsNull(row_, column);
}

void PgSqlStatement::Reset() {
  params_.clear();
  types_.clear();
  result_.reset();
  row_ = -1;
}

PgSqlDb::PgSqlDb(std::string uri, std::unique_ptr<PgConnection> conn)
    : uri_(std::move(uri)), where_(RedactPgUri(uri_)), conn_(std::move(conn)) {}

PgSqlDb::~PgSqlDb() = default;

namespace {

absl::StatusOr<std::unique_ptr<PgConnection>> ConnectSession(const std::string& uri) {
  CMO_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(uri));
  // A process paused inside a write transaction holds the writers' lock; the server ends
  // such a session, so the other instances (a new leader) are not blocked for long.
  CMO_RETURN_IF_ERROR(conn->ExecScript("SET idle_in_transaction_session_timeout = '10s'"));
  return conn;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgSqlDb>> PgSqlDb::Connect(const std::string& uri) {
  CMO_ASSIGN_OR_RETURN(auto conn, ConnectSession(uri));
  return std::unique_ptr<PgSqlDb>(new PgSqlDb(uri, std::move(conn)));
}

absl::StatusOr<PgResult> PgSqlDb::Exec(std::string_view sql, const std::vector<PgParam>& params,
                                       const std::vector<uint32_t>& types) {
  if (!conn_->ok()) {
    if (in_transaction_) {
      return absl::UnavailableError(StrCat(where_, ": connection lost inside a transaction"));
    }
    CMO_ASSIGN_OR_RETURN(conn_, ConnectSession(uri_));
  }
  return conn_->Exec(sql, params, types);
}

absl::StatusOr<PgResult> PgSqlDb::ExecStatement(std::string_view sql,
                                                const std::vector<PgParam>& params,
                                                const std::vector<uint32_t>& types, bool writes) {
  if (!writes || in_transaction_) return Exec(sql, params, types);
  CMO_RETURN_IF_ERROR(BeginWrite());
  absl::StatusOr<PgResult> r = Exec(sql, params, types);
  if (!r.ok()) {
    Rollback();
    return r.status();
  }
  CMO_RETURN_IF_ERROR(Commit());
  return r;
}

absl::Status PgSqlDb::ExecScript(std::string_view sql) {
  if (!conn_->ok() && !in_transaction_) {
    CMO_ASSIGN_OR_RETURN(conn_, ConnectSession(uri_));
  }
  return conn_->ExecScript(sql);
}

absl::StatusOr<SqlStatement*> PgSqlDb::Prepared(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  auto owned = std::unique_ptr<PgSqlStatement>(new PgSqlStatement(*this, PgParameters(sql)));
  PgSqlStatement* raw = owned.get();
  statements_.emplace(std::string(sql), std::move(owned));
  return raw;
}

absl::Status PgSqlDb::Begin(std::string_view begin, bool guarded) {
  if (in_transaction_) Rollback();  // a transaction its owner abandoned
  CMO_RETURN_IF_ERROR(ExecScript(begin));
  in_transaction_ = true;
  absl::Status s = Exec(kWritersLock).status();
  if (s.ok() && guarded && guard_) s = guard_(*conn_);
  if (!s.ok()) Rollback();
  return s;
}

absl::Status PgSqlDb::BeginWrite() { return Begin("BEGIN", /*guarded=*/true); }

absl::Status PgSqlDb::BeginRead() {
  if (in_transaction_) Rollback();
  CMO_RETURN_IF_ERROR(ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  in_transaction_ = true;
  return absl::OkStatus();
}

absl::Status PgSqlDb::Commit() {
  absl::Status s = conn_->ExecScript("COMMIT");
  in_transaction_ = false;
  return s;
}

void PgSqlDb::Rollback() {
  if (conn_->ok()) conn_->ExecScript("ROLLBACK").IgnoreError();
  in_transaction_ = false;
}

absl::Status PgSqlDb::Migrate(std::string_view component,
                              const std::vector<std::string_view>& migrations) {
  const int64_t target = static_cast<int64_t>(migrations.size());
  for (;;) {
    // Not guarded: every instance brings the schema up to date, leader or not.
    CMO_RETURN_IF_ERROR(Begin("BEGIN", /*guarded=*/false));
    absl::Status s = [&]() -> absl::Status {
      CMO_RETURN_IF_ERROR(
          ExecScript("CREATE TABLE IF NOT EXISTS cmo_schema (component TEXT PRIMARY KEY, "
                     "version BIGINT NOT NULL)"));
      CMO_ASSIGN_OR_RETURN(PgResult r, Exec("SELECT version FROM cmo_schema WHERE component = $1",
                                            {std::string(component)}));
      int64_t version = 0;
      if (r.rows() > 0) {
        CMO_ASSIGN_OR_RETURN(version, r.Int(0, 0));
      }
      if (version > target) {
        return absl::FailedPreconditionError(
            StrCat(where_, ": the ", component, " tables have schema version ", version,
                   " but this cmo knows only up to ", target,
                   "; they were written by a newer cmo — upgrade cmo"));
      }
      if (version == target) return absl::CancelledError();  // done
      CMO_RETURN_IF_ERROR(ExecScript(migrations[static_cast<size_t>(version)]));
      return Exec(
                 "INSERT INTO cmo_schema (component, version) VALUES ($1, $2) ON CONFLICT "
                 "(component) DO UPDATE SET version = $2",
                 {std::string(component), std::to_string(version + 1)}, {kTextOid, kInt8Oid})
          .status();
    }();
    if (absl::IsCancelled(s)) return Commit();
    if (!s.ok()) {
      Rollback();
      return s;
    }
    CMO_RETURN_IF_ERROR(Commit());
  }
}

}  // namespace cmo::base
