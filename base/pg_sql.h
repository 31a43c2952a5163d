// The control state's SqlDb (base/sql.h) on a PostgreSQL server, over base/postgres.h: what
// lets several `cmo serve` instances on different hosts share one control state. Statements
// keep SQLite's ?N parameters (sent as $N, typed by how they were bound); writers serialize on
// a transaction-scoped advisory lock, as SQLite writers do on the file's write lock; a lost
// connection is re-established before the next statement outside a transaction.
#ifndef CMO_BASE_PG_SQL_H_
#define CMO_BASE_PG_SQL_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/postgres.h"
#include "base/sql.h"

namespace cmo::base {

class PgSqlDb;

class PgSqlStatement final : public SqlStatement {
 public:
  PgSqlStatement& Bind(int index, int64_t value) override;
  PgSqlStatement& Bind(int index, std::string_view text) override;
  PgSqlStatement& BindNull(int index) override;
  absl::StatusOr<bool> Step() override;
  absl::Status Run() override;
  int64_t ColumnInt(int column) const override;
  std::string ColumnText(int column) const override;
  bool ColumnIsNull(int column) const override;

 protected:
  void Reset() override;

 private:
  friend class PgSqlDb;
  PgSqlStatement(PgSqlDb& db, std::string sql);
  void Set(int index, PgParam value, uint32_t type);

  PgSqlDb& db_;
  const std::string sql_;  // with $N parameters
  const bool writes_;      // INSERT, UPDATE or DELETE
  std::vector<PgParam> params_;
  std::vector<uint32_t> types_;
  std::optional<PgResult> result_;
  int row_ = -1;
};

// `?N` outside quoted text becomes `$N` (exposed for tests).
std::string PgParameters(std::string_view sqlite_sql);

class PgSqlDb final : public SqlDb {
 public:
  // Runs after BEGIN and the writers' lock, inside the transaction: a non-OK status refuses
  // the write (the transaction is rolled back and the status returned). The leader lease
  // fences writers with it (orchestrator/service/leader_lease.h).
  using WriteGuard = std::function<absl::Status(PgConnection&)>;

  static absl::StatusOr<std::unique_ptr<PgSqlDb>> Connect(const std::string& uri);
  ~PgSqlDb() override;

  void SetWriteGuard(WriteGuard guard) { guard_ = std::move(guard); }

  SqlDialect dialect() const override { return SqlDialect::kPostgres; }
  const std::string& where() const override { return where_; }
  absl::Status ExecScript(std::string_view sql) override;
  absl::StatusOr<SqlStatement*> Prepared(std::string_view sql) override;
  absl::Status Migrate(std::string_view component,
                       const std::vector<std::string_view>& migrations) override;
  absl::Status BeginWrite() override;
  absl::Status BeginRead() override;
  absl::Status Commit() override;
  void Rollback() override;

 private:
  friend class PgSqlStatement;
  PgSqlDb(std::string uri, std::unique_ptr<PgConnection> conn);
  // Reconnects first when the connection was lost and no transaction is open (a transaction
  // cannot survive its connection: its statements fail kUnavailable and the caller retries).
  absl::StatusOr<PgResult> Exec(std::string_view sql, const std::vector<PgParam>& params = {},
                                const std::vector<uint32_t>& types = {});
  absl::Status Begin(std::string_view begin, bool guarded);
  // A write outside a transaction runs in one of its own, so the write guard sees it too.
  absl::StatusOr<PgResult> ExecStatement(std::string_view sql, const std::vector<PgParam>& params,
                                         const std::vector<uint32_t>& types, bool writes);

  const std::string uri_;
  const std::string where_;
  std::unique_ptr<PgConnection> conn_;
  std::map<std::string, std::unique_ptr<PgSqlStatement>, std::less<>> statements_;
  WriteGuard guard_;
  bool in_transaction_ = false;
};

}  // namespace cmo::base

#endif  // CMO_BASE_PG_SQL_H_
