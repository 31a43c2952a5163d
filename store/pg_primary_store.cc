#include "store/pg_primary_store.h"

#include <map>
#include <utility>

#include "base/postgres.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::store {
namespace {

// Idempotent: every Open runs it; IF NOT EXISTS / ON CONFLICT make concurrent first opens safe
// enough for tests, and a schema version table comes with the store interface.
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
CREATE TABLE IF NOT EXISTS cmo_outbox (
  lsn BIGINT PRIMARY KEY, domain TEXT NOT NULL, key BYTEA NOT NULL, value BYTEA NOT NULL,
  tombstone BOOLEAN NOT NULL, commit_ms BIGINT NOT NULL, op TEXT NOT NULL, subject TEXT NOT NULL);
)sql";

constexpr char kHex[] = "0123456789abcdef";

// bytea in text format: "\x" and two hex digits a byte, both ways.
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

// A digest sum is a uint64 mod 2^64; PostgreSQL has no unsigned type, so it is stored as the
// BIGINT with the same bits.
int64_t AsStored(uint64_t v) { return static_cast<int64_t>(v); }
uint64_t AsDigest(int64_t v) { return static_cast<uint64_t>(v); }

// Rolls back unless committed: every early return leaves no half transaction behind.
class PgTxn {
 public:
  explicit PgTxn(base::PgConnection& db) : db_(db) {}
  ~PgTxn() {
    if (open_) (void)db_.ExecScript("ROLLBACK");
  }
  absl::Status Begin() {
    CMO_RETURN_IF_ERROR(db_.ExecScript("BEGIN"));
    open_ = true;
    return absl::OkStatus();
  }
  absl::Status Commit() {
    open_ = false;
    return db_.ExecScript("COMMIT");
  }

 private:
  base::PgConnection& db_;
  bool open_ = false;
};

}  // namespace

PgPrimaryStore::PgPrimaryStore(std::unique_ptr<base::PgConnection> db, const base::Clock& clock,
                               int bits)
    : db_(std::move(db)), clock_(clock), bits_(bits) {}
PgPrimaryStore::~PgPrimaryStore() = default;

absl::StatusOr<std::unique_ptr<PgPrimaryStore>> PgPrimaryStore::Open(const std::string& uri,
                                                                    const base::Clock& clock,
                                                                    const StoreOptions& options) {
  CMO_ASSIGN_OR_RETURN(auto db, base::PgConnection::Connect(uri));
  CMO_RETURN_IF_ERROR(db->ExecScript("SET client_min_messages = warning"));
  CMO_RETURN_IF_ERROR(db->ExecScript(kSchema));
  CMO_RETURN_IF_ERROR(
      db->Exec("INSERT INTO cmo_settings VALUES ('last_lsn', 0), ('digest_bits', $1) "
               "ON CONFLICT (name) DO NOTHING",
               {std::to_string(options.digest_bits)})
          .status());
  CMO_ASSIGN_OR_RETURN(base::PgResult bits,
                       db->Exec("SELECT value FROM cmo_settings WHERE name = 'digest_bits'"));
  CMO_ASSIGN_OR_RETURN(int64_t b, bits.Int(0, 0));
  return std::unique_ptr<PgPrimaryStore>(
      new PgPrimaryStore(std::move(db), clock, static_cast<int>(b)));
}

absl::StatusOr<std::vector<int64_t>> PgPrimaryStore::Write(std::span<const WriteRequest> writes) {
  if (writes.empty()) return std::vector<int64_t>();
  PgTxn txn(*db_);
  CMO_RETURN_IF_ERROR(txn.Begin());
  // First statement of the transaction: the counter row's lock is held from here to COMMIT.
  CMO_ASSIGN_OR_RETURN(
      base::PgResult counter,
      db_->Exec("UPDATE cmo_settings SET value = value + $1 WHERE name = 'last_lsn' "
                "RETURNING value",
                {std::to_string(writes.size())}));
  CMO_ASSIGN_OR_RETURN(int64_t last, counter.Int(0, 0));
  int64_t lsn = last - static_cast<int64_t>(writes.size());
  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  std::map<std::pair<std::string, uint32_t>, std::pair<uint64_t, int64_t>> deltas;
  std::vector<int64_t> lsns;
  lsns.reserve(writes.size());
  for (const WriteRequest& w : writes) {
    ++lsn;
    const std::string value = w.tombstone ? std::string() : w.value;
    const std::string key = ByteaParam(w.key);
    const uint32_t bucket = DigestBucket(w.key, bits_);
    auto& [sum, rows] = deltas[{w.domain, bucket}];
    CMO_ASSIGN_OR_RETURN(
        base::PgResult old,
        db_->Exec("SELECT lsn, tombstone, value FROM cmo_rows WHERE domain = $1 AND key = $2",
                  {w.domain, key}));
    if (old.rows() == 1) {
      CMO_ASSIGN_OR_RETURN(int64_t old_lsn, old.Int(0, 0));
      CMO_ASSIGN_OR_RETURN(std::string old_value, ByteaValue(old.Text(0, 2)));
      sum -= RowHash(w.key, old_lsn, old.Text(0, 1) == "t", old_value);
      --rows;
    }
    sum += RowHash(w.key, lsn, w.tombstone, value);
    ++rows;
    const std::string lsn_text = std::to_string(lsn);
    const std::string tomb = w.tombstone ? "true" : "false";
    const std::string at = std::to_string(now_ms);
    CMO_RETURN_IF_ERROR(
        db_->Exec("INSERT INTO cmo_rows (domain, key, bucket, value, lsn, tombstone, commit_ms) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (domain, key) DO UPDATE SET "
                  "value = EXCLUDED.value, lsn = EXCLUDED.lsn, tombstone = EXCLUDED.tombstone, "
                  "commit_ms = EXCLUDED.commit_ms",
                  {w.domain, key, std::to_string(bucket), ByteaParam(value), lsn_text, tomb, at})
            .status());
    CMO_RETURN_IF_ERROR(
        db_->Exec("INSERT INTO cmo_outbox (lsn, domain, key, value, tombstone, commit_ms, op, "
                  "subject) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                  {lsn_text, w.domain, key, ByteaParam(value), tomb, at, w.op, w.subject})
            .status());
    lsns.push_back(lsn);
  }
  for (const auto& [where, delta] : deltas) {
    const std::string bucket = std::to_string(where.second);
    CMO_ASSIGN_OR_RETURN(
        base::PgResult cur,
        db_->Exec("SELECT sum, rows FROM cmo_digests WHERE domain = $1 AND bucket = $2",
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
        db_->Exec("INSERT INTO cmo_digests (domain, bucket, sum, rows) VALUES ($1, $2, $3, $4) "
                  "ON CONFLICT (domain, bucket) DO UPDATE SET sum = EXCLUDED.sum, "
                  "rows = EXCLUDED.rows",
                  {where.first, bucket, std::to_string(AsStored(sum)), std::to_string(rows)})
            .status());
  }
  CMO_RETURN_IF_ERROR(txn.Commit());
  return lsns;
}

absl::StatusOr<std::optional<Row>> PgPrimaryStore::Get(std::string_view domain,
                                                       std::string_view key) {
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       db_->Exec("SELECT value, lsn, tombstone, commit_ms FROM cmo_rows "
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

absl::StatusOr<int64_t> PgPrimaryStore::LastLsn() {
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       db_->Exec("SELECT value FROM cmo_settings WHERE name = 'last_lsn'"));
  return r.Int(0, 0);
}

absl::StatusOr<std::vector<OutboxEntry>> PgPrimaryStore::ReadOutbox(int64_t after_lsn,
                                                                    int limit) {
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db_->Exec("SELECT lsn, domain, key, value, tombstone, commit_ms, op, subject FROM "
                "cmo_outbox WHERE lsn > $1 ORDER BY lsn LIMIT $2",
                {std::to_string(after_lsn), std::to_string(limit)}));
  std::vector<OutboxEntry> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    OutboxEntry e;
    CMO_ASSIGN_OR_RETURN(e.row.lsn, r.Int(i, 0));
    e.row.domain = std::string(r.Text(i, 1));
    CMO_ASSIGN_OR_RETURN(e.row.key, ByteaValue(r.Text(i, 2)));
    CMO_ASSIGN_OR_RETURN(e.row.value, ByteaValue(r.Text(i, 3)));
    e.row.tombstone = r.Text(i, 4) == "t";
    CMO_ASSIGN_OR_RETURN(int64_t ms, r.Int(i, 5));
    e.row.commit_time = absl::FromUnixMillis(ms);
    e.op = std::string(r.Text(i, 6));
    e.subject = std::string(r.Text(i, 7));
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<uint64_t>> PgPrimaryStore::Digests(std::string_view domain) {
  std::vector<uint64_t> out(size_t{1} << bits_, 0);
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db_->Exec("SELECT bucket, sum FROM cmo_digests WHERE domain = $1", {std::string(domain)}));
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

}  // namespace cmo::store
