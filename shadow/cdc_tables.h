// What a followed table must be, checked against the live database: it exists, its key columns
// exist and are its replica identity (what a delete carries, so the replica can delete the same
// key), and the publication includes it. Used when the CDC relay starts and by
// `cmo plan validate --live`; every refusal says what to run to fix it.
#ifndef CMO_SHADOW_CDC_TABLES_H_
#define CMO_SHADOW_CDC_TABLES_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/postgres.h"
#include "shadow/cdc_relay.h"
#include "shadow/cdc_row.h"

namespace cmo::shadow {

struct CdcColumn {
  std::string name;
  uint32_t type = 0;  // pg_type OID
};

struct CdcTableInfo {
  CdcTable table;
  std::vector<CdcColumn> columns;  // in table order, as pgoutput sends them
  std::vector<int> key;            // positions in `columns` of table.key, in its order
  int subject = -1;                // position of table.subject, -1 when none
  std::string select_list;         // the columns, quoted, for snapshot queries
  std::string quoted_name;         // "schema"."name"
};

// kFailedPrecondition (what is wrong, what to run) for a table that cannot be followed.
absl::StatusOr<CdcTableInfo> DescribeCdcTable(base::PgConnection& db, const CdcTable& table);
// The table with `columns` (as a pgoutput Relation message describes it after ALTER TABLE):
// key and subject positions and the select list follow. kFailedPrecondition when a key or
// subject column is gone.
absl::Status ReshapeCdcTable(CdcTableInfo& info, std::vector<CdcColumn> columns);

// kFailedPrecondition when `publication` does not exist or lacks one of the tables.
absl::Status CheckPublication(base::PgConnection& db, const std::string& publication,
                              const std::vector<CdcTable>& tables);

// Row `row` of `r`, whose columns from `first` on are `columns`, as cdc_row.h encodes them.
// The values view `r`'s memory.
std::vector<CdcColumnValue> CdcRowValues(const base::PgResult& r, int row, int first,
                                         const std::vector<CdcColumn>& columns);

// One chunk of the table in key order: at most `limit` rows after the key `after` (its columns'
// texts; nullopt: from the first row), fn(values) for each. Returns the key texts of the last
// row read (nullopt when there was none): where the next chunk starts. The snapshot and
// reconciliation read tables this way, so neither holds a long scan open.
absl::StatusOr<std::optional<std::vector<std::string>>> ReadCdcChunk(
    base::PgConnection& db, const CdcTableInfo& info,
    const std::optional<std::vector<std::string>>& after, int limit,
    const std::function<void(const std::vector<CdcColumnValue>&)>& fn);

// An identifier quoted for SQL ("a""b"); a schema-qualified name quoted part by part.
std::string QuoteIdent(std::string_view id);
std::string QuoteTableName(std::string_view schema_dot_name);

}  // namespace cmo::shadow

#endif  // CMO_SHADOW_CDC_TABLES_H_
