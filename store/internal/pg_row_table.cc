#include "store/internal/pg_row_table.h"

#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::store::internal {
namespace {

// Idempotent: every Open runs it. A schema version table comes with the store interface.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS cmo_settings (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS cmo_rows (
  domain TEXT NOT NULL, key BYTEA NOT NULL, bucket INT NOT NULL, value BYTEA NOT NULL,
  lsn BIGINT NOT NULL, tombstone BOOLEAN NOT NULL, commit_ms BIGINT NOT NULL,
  PRIMARY KEY (domain, key));
CREATE INDEX IF NOT EXISTS cmo_rows_by_bucket ON cmo_rows (domain, bucket, key);
CREATE TABLE IF NOT EXISTS cmo_digests (
  domain TEXT NOT NULL, bucket INT NOT NULL, sum BIGINT NOT NULL, rows BIGINT NOT NULL,
  PRIMARY KEY (domain, bucket));
)sql";

constexpr char kHex[] = "0123456789abcdef";

// A digest sum is a uint64 mod 2^64; PostgreSQL has no unsigned type, so it is stored as the
// BIGINT with the same bits.
int64_t AsStored(uint64_t v) { return static_cast<int64_t>(v); }
uint64_t AsDigest(int64_t v) { return static_cast<uint64_t>(v); }

}  // namespace

absl::StatusOr<int> OpenPgRowTables(base::PgConnection& db, int digest_bits_if_new) {
  CMO_RETURN_IF_ERROR(db.ExecScript("SET client_min_messages = warning"));
  CMO_RETURN_IF_ERROR(db.ExecScript(kSchema));
  CMO_RETURN_IF_ERROR(db.Exec("INSERT INTO cmo_settings VALUES ('digest_bits', $1) "
                              "ON CONFLICT (name) DO NOTHING",
                              {std::to_string(digest_bits_if_new)})
                          .status());
  CMO_ASSIGN_OR_RETURN(base::PgResult bits,
                       db.Exec("SELECT value FROM cmo_settings WHERE name = 'digest_bits'"));
  CMO_ASSIGN_OR_RETURN(int64_t b, bits.Int(0, 0));
  return static_cast<int>(b);
}

std::string ByteaParam(std::string_view bytes) {
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

absl::StatusOr<std::string> ByteaValue(std::string_view text) {
  if (text.substr(0, 2) != "\\x" || text.size() % 2 != 0) {
    return absl::InternalError("bytea column not in hex output format");
  }
  auto digit = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i < text.size(); i += 2) {
    out.push_back(static_cast<char>(digit(text[i]) * 16 + digit(text[i + 1])));
  }
  return out;
}

PgTxn::~PgTxn() {
  if (open_) (void)db_.ExecScript("ROLLBACK");
}

absl::Status PgTxn::Begin() {
  CMO_RETURN_IF_ERROR(db_.ExecScript("BEGIN"));
  open_ = true;
  return absl::OkStatus();
}

absl::Status PgTxn::Commit() {
  open_ = false;
  return db_.ExecScript("COMMIT");
}

absl::StatusOr<std::optional<std::pair<int64_t, uint64_t>>> PgRowWriter::Version(
    std::string_view domain, std::string_view key) {
  CMO_ASSIGN_OR_RETURN(
      base::PgResult old,
      db_.Exec("SELECT lsn, tombstone, value FROM cmo_rows WHERE domain = $1 AND key = $2",
               {std::string(domain), ByteaParam(key)}));
  if (old.rows() == 0) return std::optional<std::pair<int64_t, uint64_t>>();
  CMO_ASSIGN_OR_RETURN(int64_t lsn, old.Int(0, 0));
  CMO_ASSIGN_OR_RETURN(std::string value, ByteaValue(old.Text(0, 2)));
  return std::optional(std::make_pair(lsn, RowHash(key, lsn, old.Text(0, 1) == "t", value)));
}

absl::Status PgRowWriter::Put(const Row& row,
                              const std::optional<std::pair<int64_t, uint64_t>>& old) {
  const uint32_t bucket = DigestBucket(row.key, bits_);
  auto& [sum, rows] = deltas_[{row.domain, bucket}];
  if (old.has_value()) {
    sum -= old->second;
    --rows;
  }
  sum += RowHash(row);
  ++rows;
  return db_
      .Exec(
          "INSERT INTO cmo_rows (domain, key, bucket, value, lsn, tombstone, commit_ms) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (domain, key) DO UPDATE SET "
          "value = EXCLUDED.value, lsn = EXCLUDED.lsn, tombstone = EXCLUDED.tombstone, "
          "commit_ms = EXCLUDED.commit_ms",
          {row.domain, ByteaParam(row.key), std::to_string(bucket), ByteaParam(row.value),
           std::to_string(row.lsn), row.tombstone ? "true" : "false",
           std::to_string(absl::ToUnixMillis(row.commit_time))})
      .status();
}

absl::Status PgRowWriter::Flush() {
  for (const auto& [where, delta] : deltas_) {
    const std::string bucket = std::to_string(where.second);
    CMO_ASSIGN_OR_RETURN(
        base::PgResult cur,
        db_.Exec("SELECT sum, rows FROM cmo_digests WHERE domain = $1 AND bucket = $2",
                 {where.first, bucket}));
    uint64_t sum = delta.first;
    int64_t rows = delta.second;
    if (cur.rows() == 1) {
      CMO_ASSIGN_OR_RETURN(int64_t stored, cur.Int(0, 0));
      CMO_ASSIGN_OR_RETURN(int64_t stored_rows, cur.Int(0, 1));
      sum += AsDigest(stored);
      rows += stored_rows;
    }
    CMO_RETURN_IF_ERROR(
        db_.Exec("INSERT INTO cmo_digests (domain, bucket, sum, rows) VALUES ($1, $2, $3, $4) "
                 "ON CONFLICT (domain, bucket) DO UPDATE SET sum = EXCLUDED.sum, "
                 "rows = EXCLUDED.rows",
                 {where.first, bucket, std::to_string(AsStored(sum)), std::to_string(rows)})
            .status());
  }
  deltas_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Row>> PgGetRow(base::PgConnection& db, std::string_view domain,
                                            std::string_view key) {
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       db.Exec("SELECT value, lsn, tombstone, commit_ms FROM cmo_rows "
                               "WHERE domain = $1 AND key = $2",
                               {std::string(domain), ByteaParam(key)}));
  if (r.rows() == 0) return std::optional<Row>();
  Row row;
  row.domain = std::string(domain);
  row.key = std::string(key);
  CMO_ASSIGN_OR_RETURN(row.value, ByteaValue(r.Text(0, 0)));
  CMO_ASSIGN_OR_RETURN(row.lsn, r.Int(0, 1));
  row.tombstone = r.Text(0, 2) == "t";
  CMO_ASSIGN_OR_RETURN(int64_t ms, r.Int(0, 3));
  row.commit_time = absl::FromUnixMillis(ms);
  return std::optional<Row>(std::move(row));
}

absl::StatusOr<std::vector<uint64_t>> PgDigests(base::PgConnection& db, std::string_view domain,
                                                int bits) {
  std::vector<uint64_t> out(size_t{1} << bits, 0);
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db.Exec("SELECT bucket, sum FROM cmo_digests WHERE domain = $1", {std::string(domain)}));
  for (int i = 0; i < r.rows(); ++i) {
    CMO_ASSIGN_OR_RETURN(int64_t bucket, r.Int(i, 0));
    CMO_ASSIGN_OR_RETURN(int64_t sum, r.Int(i, 1));
    if (bucket < 0 || static_cast<size_t>(bucket) >= out.size()) {
      return absl::DataLossError(base::StrCat("cmo_digests holds bucket ", bucket, " of ",
                                              out.size(), "; the table was changed by hand"));
    }
    out[static_cast<size_t>(bucket)] = AsDigest(sum);
  }
  return out;
}

}  // namespace cmo::store::internal
