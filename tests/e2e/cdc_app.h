// An "app" with tables of its own on PostgreSQL, written with plain SQL, that the CDC tests
// follow: comments (one key column; text, numbers, booleans, jsonb, values big enough to be
// TOASTed) and follows (a two-column key). And the check every CDC test ends with: a replica
// equals the source tables row by row, judged by the server's own row_to_json, not by cmo's
// encoder.
#ifndef CMO_TESTS_E2E_CDC_APP_H_
#define CMO_TESTS_E2E_CDC_APP_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/postgres.h"
#include "shadow/cdc_relay.h"
#include "store/row_store.h"
#include "tests/fakes/pg_server.h"

namespace cmo::testing {

// A throwaway server (wal_level=logical) with the databases `app` (the app's, the source) and
// `replica` (a region's replica store).
absl::StatusOr<std::unique_ptr<PgServer>> StartCdcServer();

// The tables as a plan names them (domains comments and follows).
std::vector<shadow::CdcTable> CdcAppTables();

// Creates schema `app`, its tables, `rows` comments and rows/4 follows, and publication
// cmo_cdc over both tables.
absl::Status CreateCdcApp(base::PgConnection& db, int rows);

// One random app transaction: an insert, update, delete, a key change, a TOASTed value
// updated in another column, or several of these in one transaction. Errors are the
// server's (the caller reconnects when it went away).
absl::Status CdcAppStep(base::PgConnection& db, std::mt19937_64& rng);

// Every commit before this position (pg_current_wal_lsn() - 1): what a replica's watermark
// must reach to hold everything committed so far (a CDC session token's LSN).
absl::StatusOr<int64_t> CdcCommittedBelow(base::PgConnection& db);

// Differences between the source tables and the replica's live rows ("" = equal), at most a
// few named, with their count.
std::string CdcDiff(base::PgConnection& db, store::RowStore& replica);

}  // namespace cmo::testing

#endif  // CMO_TESTS_E2E_CDC_APP_H_
