#include "base/sql.h"

#include "base/status_macros.h"

namespace cmo::base {

absl::Status MigrateSchema(SqlDb& db, std::string_view component,
                           const std::vector<std::string_view>& sqlite,
                           const std::vector<std::string_view>& postgres) {
  return db.Migrate(component, db.dialect() == SqlDialect::kPostgres ? postgres : sqlite);
}

absl::StatusOr<std::unique_ptr<WriteTransaction>> WriteTransaction::Begin(SqlDb& db) {
  CMO_RETURN_IF_ERROR(db.BeginWrite());
  return std::unique_ptr<WriteTransaction>(new WriteTransaction(db));
}

WriteTransaction::~WriteTransaction() {
  if (!done_) db_.Rollback();
}

absl::Status WriteTransaction::Commit() {
  done_ = true;
  return db_.Commit();
}

absl::StatusOr<std::unique_ptr<ReadTransaction>> ReadTransaction::Begin(SqlDb& db) {
  CMO_RETURN_IF_ERROR(db.BeginRead());
  return std::unique_ptr<ReadTransaction>(new ReadTransaction(db));
}

}  // namespace cmo::base
