#include "store/internal/pg_session.h"

#include <map>

#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::store::internal {
namespace {

// PRIMARY KEY (domain, bucket, key): the bucket is a function of the key and leads the key, so
// a bucket scan needs no secondary index (one B-tree less on every write), as on SQLite.
// hash is the row's RowHash, kept so a digest delta needs the old version's hash, not its value.
// The primary key's index INCLUDEs it (version 2), so reconciliation reads a differing bucket's
// (key, hash) pairs from the index alone: at 10M rows, 1,000 buckets' rows are ~150k heap
// pages but ~2k index pages. Updates rarely stay HOT in a full table anyway, so the wider
// entries cost the write path 8 bytes, not an extra index.
// digests keep sum mod 2^64 as two 32-bit halves so an upsert can add a delta in BIGINT
// arithmetic without overflow (PostgreSQL has no unsigned or wrapping integer type).
constexpr PgSchemaPart kRowsPart{"rows", 4, R"sql(
CREATE TABLE IF NOT EXISTS rows (
  domain TEXT NOT NULL, bucket INT NOT NULL, key BYTEA NOT NULL, value BYTEA NOT NULL,
  lsn BIGINT NOT NULL, tombstone BOOLEAN NOT NULL, commit_ms BIGINT NOT NULL,
  kafka_offset BIGINT NOT NULL DEFAULT -1, hash BIGINT NOT NULL,
  PRIMARY KEY (domain, bucket, key) INCLUDE (hash));
CREATE TABLE IF NOT EXISTS digests (
  domain TEXT NOT NULL, bucket INT NOT NULL, lo BIGINT NOT NULL, hi BIGINT NOT NULL,
  rows BIGINT NOT NULL, PRIMARY KEY (domain, bucket));
-- From version 1: rebuild the primary key with the hash included (locks the table while the
-- index is built: about a minute per 10M rows).
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = 'rows'::regclass AND indisprimary
                 AND indnatts > indnkeyatts) THEN
    ALTER TABLE rows DROP CONSTRAINT rows_pkey,
      ADD PRIMARY KEY (domain, bucket, key) INCLUDE (hash);
  END IF;
END $$;
-- Version 3: the op and subject of the write that last wrote each row (Row::op, Row::subject);
-- rows written before name none. A default on a new column rewrites no row.
ALTER TABLE rows ADD COLUMN IF NOT EXISTS op TEXT NOT NULL DEFAULT '',
  ADD COLUMN IF NOT EXISTS subject TEXT NOT NULL DEFAULT '';
-- Version 4: the LSN each row causally follows (Row::depends_on); 0 for rows written before.
ALTER TABLE rows ADD COLUMN IF NOT EXISTS depends_on BIGINT NOT NULL DEFAULT 0;
)sql",
                                 ""};

bool ValidSchemaName(std::string_view s) {
  if (s.empty() || s.size() > 63 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

absl::StatusOr<int64_t> PartVersion(base::PgConnection& db, const PgSchemaPart& part) {
  CMO_ASSIGN_OR_RETURN(base::PgResult exists,
                       db.Exec("SELECT to_regclass('settings') IS NOT NULL"));
  if (exists.Text(0, 0) != "t") return 0;
  CMO_ASSIGN_OR_RETURN(base::PgResult r, db.Exec("SELECT value FROM settings WHERE name = $1",
                                                 {base::StrCat("schema_version_", part.name)}));
  return r.rows() == 0 ? 0 : r.Int(0, 0);
}

// Creates the part under an advisory lock, so app processes starting together on an empty
// database do not race each other's CREATE TABLE (which fails on a duplicate type otherwise).
absl::Status EnsurePart(base::PgConnection& db, std::string_view schema, const PgSchemaPart& part,
                        int digest_bits) {
  CMO_ASSIGN_OR_RETURN(int64_t have, PartVersion(db, part));
  if (have == part.version) return absl::OkStatus();
  if (have > part.version) {
    return absl::FailedPreconditionError(base::StrCat(
        "schema ", schema, " holds cmo's ", part.name, " tables at version ", have,
        ", newer than this binary knows (", part.version, "); upgrade cmo on this host"));
  }
  CMO_RETURN_IF_ERROR(db.ExecScript("BEGIN"));
  absl::Status s = [&]() -> absl::Status {
    CMO_RETURN_IF_ERROR(db.Exec("SELECT pg_advisory_xact_lock(hashtext('cmo schema ' || $1))",
                                {std::string(schema)})
                            .status());
    CMO_RETURN_IF_ERROR(db.ExecScript(base::StrCat("CREATE SCHEMA IF NOT EXISTS ", schema)));
    CMO_RETURN_IF_ERROR(db.ExecScript(
        "CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value BIGINT NOT NULL)"));
    CMO_RETURN_IF_ERROR(db.Exec("INSERT INTO settings VALUES ('digest_bits', $1) "
                                "ON CONFLICT (name) DO NOTHING",
                                {std::to_string(digest_bits)})
                            .status());
    CMO_RETURN_IF_ERROR(db.ExecScript(part.ddl));
    return db
        .Exec(
            "INSERT INTO settings VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = "
            "EXCLUDED.value",
            {base::StrCat("schema_version_", part.name), std::to_string(part.version)})
        .status();
  }();
  if (!s.ok()) {
    (void)db.ExecScript("ROLLBACK");
    return s;
  }
  return db.ExecScript("COMMIT");
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgSession>> PgSession::Open(const std::string& uri,
                                                           const StoreOptions& options,
                                                           const PgSchemaPart& role) {
  if (!ValidSchemaName(options.pg_schema)) {
    return absl::InvalidArgumentError(
        base::StrCat("PostgreSQL schema name \"", options.pg_schema,
                     "\" is not [a-z_][a-z0-9_]{0,62}; name it in lower case"));
  }
  if (options.digest_bits < 1 || options.digest_bits > 24) {
    return absl::InvalidArgumentError("digest bits must be between 1 and 24");
  }
  std::unique_ptr<PgSession> session(new PgSession(uri, options.pg_schema));
  CMO_RETURN_IF_ERROR(session->Connect());
  base::PgConnection& db = *session->db_;
  // The usual case, an existing store at this binary's versions, costs one round trip (every
  // app process opens several connections, possibly across a long link).
  absl::StatusOr<base::PgResult> known = db.Exec(
      "SELECT name, value FROM settings WHERE name IN ($1, $2, $3, 'digest_bits')",
      {base::StrCat("schema_version_", kRowsPart.name), base::StrCat("schema_version_", role.name),
       base::StrCat("schema_version_", role.exclusive_of)});
  std::map<std::string, int64_t, std::less<>> settings;
  if (known.ok()) {
    for (int i = 0; i < known->rows(); ++i) {
      CMO_ASSIGN_OR_RETURN(settings[std::string(known->Text(i, 0))], known->Int(i, 1));
    }
  }
  const auto version = [&](std::string_view part) {
    auto it = settings.find(base::StrCat("schema_version_", part));
    return it == settings.end() ? int64_t{0} : it->second;
  };
  if (version(role.exclusive_of) != 0) {
    return absl::FailedPreconditionError(
        base::StrCat(base::RedactPgUri(uri), ": schema ", session->schema_, " already holds a ",
                     role.exclusive_of, " store; a ", role.name,
                     " needs its own database, or another schema (pg_schema)"));
  }
  if (version(kRowsPart.name) != kRowsPart.version || version(role.name) != role.version ||
      !settings.contains("digest_bits")) {
    CMO_RETURN_IF_ERROR(EnsurePart(db, session->schema_, kRowsPart, options.digest_bits));
    CMO_RETURN_IF_ERROR(EnsurePart(db, session->schema_, role, options.digest_bits));
    CMO_ASSIGN_OR_RETURN(base::PgResult bits,
                         db.Exec("SELECT value FROM settings WHERE name = 'digest_bits'"));
    if (bits.rows() != 1) {
      return absl::DataLossError(base::StrCat(base::RedactPgUri(uri), ": schema ", session->schema_,
                                              " lost its digest_bits setting"));
    }
    CMO_ASSIGN_OR_RETURN(settings["digest_bits"], bits.Int(0, 0));
  }
  session->bits_ = static_cast<int>(settings["digest_bits"]);
  return session;
}

absl::Status PgSession::Connect() {
  db_.reset();
  CMO_ASSIGN_OR_RETURN(std::unique_ptr<base::PgConnection> db, base::PgConnection::Connect(uri_));
  // The schema name was validated (it is spliced, not bound: SET takes no parameters). Only
  // cmo's schema is searched, so an app table of the same name is never touched.
  CMO_RETURN_IF_ERROR(db->ExecScript(
      base::StrCat("SET client_min_messages = warning; SET search_path TO ", schema_)));
  db_ = std::move(db);
  return absl::OkStatus();
}

absl::StatusOr<base::PgConnection*> PgSession::Db() {
  if (db_ == nullptr || !db_->ok()) CMO_RETURN_IF_ERROR(Connect());
  return db_.get();
}

absl::StatusOr<std::vector<base::PgResult>> PgSession::BeginPipelined(
    const std::vector<base::PgStatement>& first, base::PgConnection** db) {
  absl::StatusOr<std::vector<base::PgResult>> got =
      Run([&](base::PgConnection& c) -> absl::StatusOr<std::vector<base::PgResult>> {
        *db = &c;
        return c.ExecPipeline(first);
      });
  // kUnavailable: the connection is gone, and its transaction with it (*db may even have been
  // replaced). Otherwise the connection holds an aborted transaction: end it.
  if (!got.ok() && !absl::IsUnavailable(got.status())) (void)(*db)->ExecScript("ROLLBACK");
  return got;
}

}  // namespace cmo::store::internal
