// The strong path of domains followed by change data capture: the app's own table, read by
// key, so that routing, tokens and shadow comparison work for them as for any domain (the
// replica side is fed by the CDC relay). A row read here has no version of its own: it is
// given the read position (every commit below pg_current_wal_lsn() at the read), an upper
// bound of its true version. That keeps what the rest of the client relies on: a session that
// read it waits for a replica at least that far (monotonic reads), and a shadow comparison
// that still differs after the staleness window is a divergence (shadow/mismatch.h).
#ifndef CMO_SHADOW_CDC_SOURCE_READER_H_
#define CMO_SHADOW_CDC_SOURCE_READER_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/postgres.h"
#include "shadow/cdc_relay.h"
#include "shadow/cdc_tables.h"
#include "shadow/internal/connection_pool.h"
#include "store/row.h"

namespace cmo::shadow {

// Thread-safe.
class CdcSourceReader {
 public:
  CdcSourceReader(std::string source, std::vector<CdcTable> tables);

  bool Follows(std::string_view domain) const;
  // The row (value: cdc_row.h's JSON; lsn: the read position minus one), or a tombstone with
  // that LSN when the table has no such key. kUnavailable when the source is away;
  // kInvalidArgument for a key that is not the table's key (a composite key is a JSON array).
  absl::StatusOr<std::optional<store::Row>> Get(std::string_view domain, std::string_view key);

 private:
  struct Connection {
    std::unique_ptr<base::PgConnection> db;
  };
  struct Table {
    CdcTableInfo info;
    std::string sql;  // by key, with the read position
  };
  absl::StatusOr<const Table*> Describe(base::PgConnection& db, const CdcTable& t);

  const std::string source_;
  const std::vector<CdcTable> tables_;
  internal::ConnectionPool<Connection> pool_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Table>> described_;  // by domain; guarded by mu_
};

// The key columns' texts of a key as the CDC relay writes it (one column: the text itself;
// several: a JSON array), for SQL parameters. kInvalidArgument when it does not fit.
absl::StatusOr<std::vector<std::string>> CdcKeyTexts(std::string_view key, size_t columns);

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_CDC_SOURCE_READER_H_
