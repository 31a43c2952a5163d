#include "store/internal/row_table.h"

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::store::internal {

const std::string_view kRowTableSchema = R"sql(
CREATE TABLE rows (
  domain TEXT NOT NULL, bucket INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
  lsn INTEGER NOT NULL, tombstone INTEGER NOT NULL, commit_ms INTEGER NOT NULL,
  PRIMARY KEY (domain, bucket, key)) STRICT, WITHOUT ROWID;
CREATE TABLE digests (
  domain TEXT NOT NULL, bucket INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  PRIMARY KEY (domain, bucket)) STRICT, WITHOUT ROWID;
CREATE TABLE store_settings (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
)sql";

// Step 2: where the change that last wrote each replica row sat in its change-topic partition,
// so a divergence can be traced to the Kafka record that caused it (-1 on the primary).
const std::string_view kRowOffsetSchema = R"sql(
ALTER TABLE rows ADD COLUMN kafka_offset INTEGER NOT NULL DEFAULT -1;
)sql";

// Step 3: the op and subject of the write that last wrote each row (Row::op, Row::subject).
// Rows written before it name none ('').
const std::string_view kRowOriginSchema = R"sql(
ALTER TABLE rows ADD COLUMN op TEXT NOT NULL DEFAULT '';
ALTER TABLE rows ADD COLUMN subject TEXT NOT NULL DEFAULT '';
)sql";

// Step 4: the LSN each row causally follows (Row::depends_on); 0 for rows written before.
const std::string_view kRowDependsOnSchema = R"sql(
ALTER TABLE rows ADD COLUMN depends_on INTEGER NOT NULL DEFAULT 0;
)sql";

namespace {

// Every row read selects these, in this order (ReadRow).
#define CMO_ROW_COLUMNS \
  "value, lsn, tombstone, commit_ms, kafka_offset, op, subject, key, bucket, depends_on"

Row ReadRow(base::Statement::Scope& s, std::string_view domain) {
  Row r;
  r.domain = std::string(domain);
  r.value = s->ColumnText(0);
  r.lsn = s->ColumnInt(1);
  r.tombstone = s->ColumnInt(2) != 0;
  r.commit_time = absl::FromUnixMillis(s->ColumnInt(3));
  r.kafka_offset = s->ColumnInt(4);
  r.op = s->ColumnText(5);
  r.subject = s->ColumnText(6);
  r.key = s->ColumnText(7);
  r.depends_on = s->ColumnInt(9);
  return r;
}

}  // namespace

absl::StatusOr<OpenedStore> OpenStore(const std::string& path, bool synchronous_full,
                                      int digest_bits, std::string_view component,
                                      const std::vector<std::string_view>& schema) {
  base::SqliteOptions sqlite;
  sqlite.synchronous_full = synchronous_full;
  OpenedStore out;
  CMO_ASSIGN_OR_RETURN(out.db, base::SqliteDb::Open(path, sqlite));
  CMO_RETURN_IF_ERROR(out.db->Migrate(
      "rows", {kRowTableSchema, kRowOffsetSchema, kRowOriginSchema, kRowDependsOnSchema}));
  CMO_RETURN_IF_ERROR(out.db->Migrate(component, schema));
  CMO_ASSIGN_OR_RETURN(RowTable rows, RowTable::Open(*out.db, digest_bits));
  out.rows = std::make_unique<RowTable>(std::move(rows));
  return out;
}

absl::StatusOr<RowTable> RowTable::Open(base::SqliteDb& db, int digest_bits_if_new) {
  if (digest_bits_if_new < 1 || digest_bits_if_new > 24) {
    return absl::InvalidArgumentError("digest bits must be between 1 and 24");
  }
  CMO_ASSIGN_OR_RETURN(
      base::Statement * insert,
      db.Prepare("INSERT OR IGNORE INTO store_settings (name, value) VALUES ('digest_bits', ?1)"));
  {
    base::Statement::Scope s(*insert);
    s->Bind(1, int64_t{digest_bits_if_new});
    CMO_RETURN_IF_ERROR(s->Run());
  }
  CMO_ASSIGN_OR_RETURN(base::Statement * read,
                       db.Prepare("SELECT value FROM store_settings WHERE name = 'digest_bits'"));
  base::Statement::Scope s(*read);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::DataLossError(base::StrCat(db.path(), ": digest_bits setting missing"));
  RowTable table(db, static_cast<int>(s->ColumnInt(0)));
  CMO_RETURN_IF_ERROR(table.PrepareHot());
  return table;
}

absl::Status RowTable::PrepareHot() {
  CMO_ASSIGN_OR_RETURN(get_,
                       db_->Prepare("SELECT " CMO_ROW_COLUMNS
                                    " FROM rows WHERE domain = ?1 AND bucket = ?3 AND key = ?2"));
  CMO_ASSIGN_OR_RETURN(
      upsert_,
      db_->Prepare(
          "INSERT INTO rows (domain, key, value, lsn, tombstone, commit_ms, bucket, "
          "kafka_offset, op, subject, depends_on) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
          "?10, ?11) ON CONFLICT (domain, bucket, key) DO UPDATE SET value = ?3, "
          "lsn = ?4, tombstone = ?5, commit_ms = ?6, kafka_offset = ?8, op = ?9, "
          "subject = ?10, depends_on = ?11"));
  // digest = sum of row hashes mod 2^64, kept as two 32-bit halves (lo, hi) so that SQLite
  // can add a delta in one upsert: every intermediate stays below 2^34, far from the signed
  // 64-bit overflow that would turn it into a float. In SET, lo and hi are the old values.
  CMO_ASSIGN_OR_RETURN(
      digest_,
      db_->Prepare("INSERT INTO digests (domain, bucket, lo, hi, rows) VALUES (?1, ?2, ?3, ?4, ?5) "
                   "ON CONFLICT (domain, bucket) DO UPDATE SET "
                   "lo = (lo + ?3) % 4294967296, "
                   "hi = (hi + ?4 + (lo + ?3) / 4294967296) % 4294967296, "
                   "rows = rows + ?5"));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Row>> RowTable::Get(std::string_view domain, std::string_view key) {
  base::Statement::Scope s(*get_);
  CMO_ASSIGN_OR_RETURN(bool row, Seek(s, domain, key));
  if (!row) return std::optional<Row>();
  return std::optional<Row>(ReadRow(s, domain));
}

absl::StatusOr<std::optional<StoredVersion>> RowTable::Version(std::string_view domain,
                                                               std::string_view key) {
  base::Statement::Scope s(*get_);
  CMO_ASSIGN_OR_RETURN(bool row, Seek(s, domain, key));
  if (!row) return std::optional<StoredVersion>();
  const int64_t lsn = s->ColumnInt(1);
  return std::optional<StoredVersion>(
      StoredVersion{lsn, RowHash(key, lsn, s->ColumnInt(2) != 0, s->ColumnView(0))});
}

absl::StatusOr<bool> RowTable::Seek(base::Statement::Scope& s, std::string_view domain,
                                    std::string_view key) {
  // The bucket is a function of the key and leads the primary key, so a bucket scan needs no
  // secondary index (one less B-tree to update on every write).
  s->BindView(1, domain).BindBlobView(2, key).Bind(3, int64_t{DigestBucket(key, bits_)});
  return s->Step();
}

absl::Status RowTable::Put(const Row& row, const std::optional<StoredVersion>& old,
                           DigestDeltas& digests) {
  const uint32_t bucket = DigestBucket(row.key, bits_);
  {
    base::Statement::Scope s(*upsert_);
    s->BindView(1, row.domain)
        .BindBlobView(2, row.key)
        .BindBlobView(3, row.value)
        .Bind(4, row.lsn)
        .Bind(5, int64_t{row.tombstone})
        .Bind(6, absl::ToUnixMillis(row.commit_time))
        .Bind(7, int64_t{bucket})
        .Bind(8, row.kafka_offset)
        .BindView(9, row.op)
        .BindView(10, row.subject)
        .Bind(11, row.depends_on);
    CMO_RETURN_IF_ERROR(s->Run());
  }
  DigestDeltas::Delta& d = digests.At(row.domain, bucket);
  d.sum += RowHash(row) - (old.has_value() ? old->hash : 0);
  d.rows += old.has_value() ? 0 : 1;
  return absl::OkStatus();
}

absl::Status RowTable::Delete(const Row& old, DigestDeltas& digests) {
  const uint32_t bucket = DigestBucket(old.key, bits_);
  CMO_ASSIGN_OR_RETURN(
      base::Statement * stmt,
      db_->Prepare("DELETE FROM rows WHERE domain = ?1 AND bucket = ?2 AND key = ?3"));
  base::Statement::Scope s(*stmt);
  s->BindView(1, old.domain).Bind(2, int64_t{bucket}).BindBlobView(3, old.key);
  CMO_RETURN_IF_ERROR(s->Run());
  DigestDeltas::Delta& d = digests.At(old.domain, bucket);
  d.sum -= RowHash(old);
  d.rows -= 1;
  return absl::OkStatus();
}

DigestDeltas::Delta& DigestDeltas::At(std::string_view domain, uint32_t bucket) {
  for (Domain& d : domains_) {
    if (d.name == domain) return d.buckets[bucket];
  }
  domains_.push_back({std::string(domain), {}});
  return domains_.back().buckets[bucket];
}

absl::Status RowTable::Commit(DigestDeltas& digests, base::WriteTransaction& txn) {
  std::sort(
      digests.domains_.begin(), digests.domains_.end(),
      [](const DigestDeltas::Domain& a, const DigestDeltas::Domain& b) { return a.name < b.name; });
  std::vector<std::pair<uint32_t, DigestDeltas::Delta>> sorted;
  for (const DigestDeltas::Domain& domain : digests.domains_) {
    sorted.assign(domain.buckets.begin(), domain.buckets.end());
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [bucket, d] : sorted) {
      base::Statement::Scope s(*digest_);
      s->BindView(1, domain.name)
          .Bind(2, int64_t{bucket})
          .Bind(3, static_cast<int64_t>(d.sum & 0xffffffffu))
          .Bind(4, static_cast<int64_t>(d.sum >> 32))
          .Bind(5, d.rows);
      CMO_RETURN_IF_ERROR(s->Run());
    }
  }
  digests.domains_.clear();
  return txn.Commit();
}

namespace {

absl::StatusOr<int64_t> ReadSetting(base::SqliteDb& db, std::string_view name) {
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt,
                       db.Prepare("SELECT value FROM store_settings WHERE name = ?1"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, name);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->ColumnInt(0) : 0;
}

absl::Status RaiseSetting(base::SqliteDb& db, std::string_view name, int64_t value) {
  CMO_ASSIGN_OR_RETURN(
      base::Statement * stmt,
      db.Prepare("INSERT INTO store_settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) "
                 "DO UPDATE SET value = max(value, ?2)"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, name).Bind(2, value);
  return s->Run();
}

}  // namespace

absl::StatusOr<int64_t> RowTable::CollectTombstones(std::string_view domain, absl::Time cutoff,
                                                    int64_t limit, DigestDeltas& digests) {
  std::vector<Row> dead;
  {
    CMO_ASSIGN_OR_RETURN(base::Statement * stmt,
                         db_->Prepare("SELECT " CMO_ROW_COLUMNS " FROM rows WHERE domain = ?1 "
                                      "AND tombstone = 1 AND commit_ms < ?2 LIMIT ?3"));
    base::Statement::Scope s(*stmt);
    s->Bind(1, domain).Bind(2, absl::ToUnixMillis(cutoff)).Bind(3, limit);
    CMO_RETURN_IF_ERROR(s->ForEachRow([&] { dead.push_back(ReadRow(s, domain)); }));
  }
  int64_t max_lsn = 0;
  for (const Row& r : dead) {
    CMO_RETURN_IF_ERROR(Delete(r, digests));
    max_lsn = std::max(max_lsn, r.lsn);
  }
  CMO_RETURN_IF_ERROR(RaiseSetting(*db_, "tombstone_horizon_ms", absl::ToUnixMillis(cutoff)));
  CMO_RETURN_IF_ERROR(RaiseSetting(*db_, "collected_through_lsn", max_lsn));
  return static_cast<int64_t>(dead.size());
}

absl::StatusOr<absl::Time> RowTable::TombstoneHorizon() {
  CMO_ASSIGN_OR_RETURN(int64_t ms, ReadSetting(*db_, "tombstone_horizon_ms"));
  return ms == 0 ? absl::InfinitePast() : absl::FromUnixMillis(ms);
}

absl::StatusOr<int64_t> RowTable::CollectedThroughLsn() {
  return ReadSetting(*db_, "collected_through_lsn");
}

absl::StatusOr<std::vector<uint64_t>> RowTable::Digests(std::string_view domain) {
  std::vector<uint64_t> out(size_t{1} << bits_, 0);
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt,
                       db_->Prepare("SELECT bucket, lo, hi FROM digests WHERE domain = ?1"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, domain);
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] {
    const int64_t bucket = s->ColumnInt(0);
    if (bucket >= 0 && static_cast<size_t>(bucket) < out.size()) {
      out[static_cast<size_t>(bucket)] =
          static_cast<uint64_t>(s->ColumnInt(1)) | (static_cast<uint64_t>(s->ColumnInt(2)) << 32);
    }
  }));
  return out;
}

absl::StatusOr<std::vector<Row>> RowTable::RowsInBucket(std::string_view domain, uint32_t bucket) {
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt,
                       db_->Prepare("SELECT " CMO_ROW_COLUMNS
                                    " FROM rows WHERE domain = ?1 AND bucket = ?2 ORDER BY key"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, domain).Bind(2, int64_t{bucket});
  std::vector<Row> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] { out.push_back(ReadRow(s, domain)); }));
  return out;
}

absl::Status RowTable::Scan(std::string_view domain,
                            const std::function<void(uint32_t bucket, const Row& row)>& fn) {
  CMO_ASSIGN_OR_RETURN(
      base::Statement * stmt,
      db_->Prepare("SELECT " CMO_ROW_COLUMNS " FROM rows WHERE domain = ?1 ORDER BY bucket, key"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, domain);
  return s->ForEachRow([&] { fn(static_cast<uint32_t>(s->ColumnInt(8)), ReadRow(s, domain)); });
}

absl::StatusOr<int64_t> RowTable::CountRows(std::string_view domain) {
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt,
                       db_->Prepare("SELECT count(*) FROM rows WHERE domain = ?1"));
  base::Statement::Scope s(*stmt);
  s->Bind(1, domain);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->ColumnInt(0) : 0;
}

absl::StatusOr<std::vector<std::string>> RowTable::Domains() {
  CMO_ASSIGN_OR_RETURN(base::Statement * stmt,
                       db_->Prepare("SELECT DISTINCT domain FROM digests ORDER BY domain"));
  base::Statement::Scope s(*stmt);
  std::vector<std::string> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] { out.push_back(s->ColumnText(0)); }));
  return out;
}

}  // namespace cmo::store::internal

#undef CMO_ROW_COLUMNS
