// One PostgreSQL store connection that survives its server: after a restart or a cut connection
// (pg_terminate_backend, a network partition) the next call reconnects instead of failing
// forever, and the call that met the broken connection fails with kUnavailable. Also creates
// and versions cmo's schema on first use, so an empty database is enough.
#ifndef CMO_STORE_INTERNAL_PG_SESSION_H_
#define CMO_STORE_INTERNAL_PG_SESSION_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/postgres.h"
#include "store/primary_store.h"

namespace cmo::store::internal {

// The DDL of one part of the schema ("rows", "primary", "replica") at one version.
struct PgSchemaPart {
  std::string_view name;
  int version = 0;
  std::string_view ddl;  // idempotent (IF NOT EXISTS); runs with search_path = the schema
  // A part that must not share the schema: a primary and a replica each own their rows table.
  std::string_view exclusive_of;
};

// Not thread-safe (one per store object, as the stores themselves).
class PgSession {
 public:
  // Connects, creates or checks the schema parts (the rows tables are always one of them) and
  // reads the store's digest bits (fixed at creation; `options.digest_bits` if new).
  static absl::StatusOr<std::unique_ptr<PgSession>> Open(const std::string& uri,
                                                         const StoreOptions& options,
                                                         const PgSchemaPart& role);

  // The live connection, reconnecting first when the previous one broke.
  absl::StatusOr<base::PgConnection*> Db();

  // fn(connection), retried once on a new connection when it failed kUnavailable on one that
  // was already open: a pooled connection that died while idle (the server restarted) must not
  // fail the request that happens to find it. Only for fn safe to run twice: reads, and the
  // part of a write before its COMMIT is sent.
  template <typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<base::PgConnection&>())) {
    const bool reused = db_ != nullptr && db_->ok();
    absl::StatusOr<base::PgConnection*> db = Db();
    if (!db.ok()) return db.status();
    auto result = fn(**db);
    if (result.ok() || !reused || !absl::IsUnavailable(result.status())) return result;
    db = Db();
    if (!db.ok()) return db.status();
    return fn(**db);
  }
  int digest_bits() const { return bits_; }

  // The first half of a pipelined transaction: `first` starts with BEGIN; run as Run() does
  // (retried once if a pooled connection died idle — nothing was committed). On success *db is
  // the connection now holding the open transaction; on failure no transaction is left open.
  absl::StatusOr<std::vector<base::PgResult>> BeginPipelined(
      const std::vector<base::PgStatement>& first, base::PgConnection** db);

 private:
  PgSession(std::string uri, std::string schema)
      : uri_(std::move(uri)), schema_(std::move(schema)) {}
  absl::Status Connect();

  std::string uri_;
  std::string schema_;
  std::unique_ptr<base::PgConnection> db_;
  int bits_ = 0;
};

}  // namespace cmo::store::internal

#endif  // CMO_STORE_INTERNAL_PG_SESSION_H_
