#include "store/internal/pg_row_table.h"

#include <cassert>
#include <cstdint>

#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::store::internal {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr int kScanPage = 10'000;
constexpr std::string_view kRowColumns =
    "value, lsn, tombstone, commit_ms, kafka_offset, key, bucket, op, subject, depends_on";

// A digest sum is a uint64 mod 2^64; PostgreSQL has no unsigned type, so a row's hash is
// stored as the BIGINT with the same bits.
int64_t AsStored(uint64_t v) { return static_cast<int64_t>(v); }

// Columns as kRowColumns orders them.
absl::StatusOr<Row> ReadRow(const base::PgResult& r, int i, std::string_view domain) {
  Row row;
  row.domain = std::string(domain);
  CMO_ASSIGN_OR_RETURN(row.value, ByteaValue(r.Text(i, 0)));
  CMO_ASSIGN_OR_RETURN(row.lsn, r.Int(i, 1));
  row.tombstone = r.Text(i, 2) == "t";
  CMO_ASSIGN_OR_RETURN(int64_t ms, r.Int(i, 3));
  row.commit_time = absl::FromUnixMillis(ms);
  CMO_ASSIGN_OR_RETURN(row.kafka_offset, r.Int(i, 4));
  CMO_ASSIGN_OR_RETURN(row.key, ByteaValue(r.Text(i, 5)));
  row.op = std::string(r.Text(i, 7));
  row.subject = std::string(r.Text(i, 8));
  CMO_ASSIGN_OR_RETURN(row.depends_on, r.Int(i, 9));
  return row;
}

absl::StatusOr<std::vector<Row>> ReadRows(const base::PgResult& r, std::string_view domain) {
  std::vector<Row> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    CMO_ASSIGN_OR_RETURN(Row row, ReadRow(r, i, domain));
    out.push_back(std::move(row));
  }
  return out;
}

absl::Status RaiseSetting(base::PgConnection& db, std::string_view name, int64_t value) {
  return db
      .Exec(
          "INSERT INTO settings VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = "
          "GREATEST(settings.value, EXCLUDED.value)",
          {std::string(name), std::to_string(value)})
      .status();
}

}  // namespace

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

namespace {

uint32_t ElementOid(PgArray::Type type) {  // pg_type OIDs, fixed since PostgreSQL 7
  switch (type) {
    case PgArray::Type::kText:
      return 25;
    case PgArray::Type::kBytea:
      return 17;
    case PgArray::Type::kInt8:
      return 20;
    case PgArray::Type::kInt4:
      return 23;
    case PgArray::Type::kBool:
      return 16;
  }
  return 0;
}

// Network byte order, as every integer of the binary format; one append, not one per byte (this
// runs for every element of every batch).
void PutBigEndian(std::string& out, uint64_t v, int bytes) {
  char buf[8];
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) buf[i] = static_cast<char>(v & 0xff);
  out.append(buf, static_cast<size_t>(bytes));
}

}  // namespace

void PgArray::Add(std::string_view bytes) {
  assert(type_ == Type::kText || type_ == Type::kBytea);
  PutBigEndian(elements_, bytes.size(), 4);
  elements_.append(bytes);
  ++count_;
}

void PgArray::Add(int64_t v) {
  assert(type_ == Type::kInt8 || (type_ == Type::kInt4 && v >= INT32_MIN && v <= INT32_MAX));
  const int bytes = type_ == Type::kInt8 ? 8 : 4;
  PutBigEndian(elements_, static_cast<uint32_t>(bytes), 4);
  PutBigEndian(elements_, static_cast<uint64_t>(v), bytes);
  ++count_;
}

void PgArray::Add(bool v) {
  assert(type_ == Type::kBool);
  PutBigEndian(elements_, 1, 4);
  elements_.push_back(v ? 1 : 0);
  ++count_;
}

// Header: dimensions, has-nulls flag, element type, then per dimension its size and lower
// bound; an empty array has no dimension.
PgBinary PgArray::Done() && {
  std::string out;
  out.reserve(20 + elements_.size());
  PutBigEndian(out, count_ > 0 ? 1 : 0, 4);
  PutBigEndian(out, 0, 4);
  PutBigEndian(out, ElementOid(type_), 4);
  if (count_ > 0) {
    PutBigEndian(out, static_cast<uint32_t>(count_), 4);
    PutBigEndian(out, 1, 4);
  }
  out.append(elements_);
  return PgBinary{std::move(out)};
}

base::PgStatement PgStatementOf(std::string sql, std::vector<PgArg> args) {
  base::PgStatement st{std::move(sql), {}};
  st.params.reserve(args.size());
  st.binary.reserve(args.size());
  for (PgArg& arg : args) {
    const bool binary = std::holds_alternative<PgBinary>(arg);
    st.params.emplace_back(binary ? std::move(std::get<PgBinary>(arg).bytes)
                                  : std::move(std::get<std::string>(arg)));
    st.binary.push_back(binary);
  }
  return st;
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

base::PgStatement PgLockWritersStatement(std::string_view row) {
  return {"SELECT value FROM settings WHERE name = $1 FOR UPDATE", {std::string(row)}};
}

absl::StatusOr<int64_t> PgLockWriters(base::PgConnection& db, std::string_view row) {
  const base::PgStatement st = PgLockWritersStatement(row);
  CMO_ASSIGN_OR_RETURN(base::PgResult r, db.Exec(st.sql, st.params));
  if (r.rows() != 1) {
    return absl::DataLossError(base::StrCat("settings row ", row,
                                            " is missing; it was deleted "
                                            "by hand: restore it or recreate the store"));
  }
  return r.Int(0, 0);
}

absl::StatusOr<int64_t> PgSetting(base::PgConnection& db, std::string_view name) {
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       db.Exec("SELECT value FROM settings WHERE name = $1", {std::string(name)}));
  return r.rows() == 0 ? 0 : r.Int(0, 0);
}

absl::Status PgSetSetting(base::PgConnection& db, std::string_view name, int64_t value) {
  return db
      .Exec(
          "INSERT INTO settings VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = "
          "EXCLUDED.value",
          {std::string(name), std::to_string(value)})
      .status();
}

// Keys sent as arrays are looked up with LATERAL ... LIMIT 1 (the LIMIT keeps the planner from
// flattening it back into a join), one primary-key probe each: as a plain join, the planner
// hashed the whole table for a 10,000-key batch once it held ~500k rows (a seq scan per batch,
// 200+ ms and growing with the table).
std::optional<base::PgStatement> PgRowWriter::PrefetchStatement(
    std::span<const std::pair<std::string_view, std::string_view>> keys) {
  PgArray domains(PgArray::Type::kText), buckets(PgArray::Type::kInt4),
      names(PgArray::Type::kBytea);
  int n = 0;
  for (const auto& [domain, key] : keys) {
    auto [it, inserted] = current_.try_emplace(Key(domain, key), std::nullopt);
    if (!inserted) continue;
    domains.Add(domain);
    buckets.Add(int64_t{DigestBucket(key, bits_)});
    names.Add(key);
    ++n;
  }
  if (n == 0) return std::nullopt;
  return PgStatementOf(
      "SELECT k.domain, k.key, r.lsn, r.hash FROM unnest($1::text[], $2::int[], $3::bytea[]) "
      "AS k(domain, bucket, key) CROSS JOIN LATERAL (SELECT lsn, hash FROM rows WHERE "
      "rows.domain = k.domain AND rows.bucket = k.bucket AND rows.key = k.key LIMIT 1) r",
      {std::move(domains).Done(), std::move(buckets).Done(), std::move(names).Done()});
}

absl::Status PgRowWriter::TakePrefetched(const base::PgResult& r) {
  for (int i = 0; i < r.rows(); ++i) {
    CMO_ASSIGN_OR_RETURN(std::string key, ByteaValue(r.Text(i, 1)));
    PgVersion v;
    CMO_ASSIGN_OR_RETURN(v.lsn, r.Int(i, 2));
    CMO_ASSIGN_OR_RETURN(int64_t hash, r.Int(i, 3));
    v.hash = static_cast<uint64_t>(hash);
    current_[Key(r.Text(i, 0), std::move(key))] = v;
  }
  return absl::OkStatus();
}

absl::Status PgRowWriter::Prefetch(
    std::span<const std::pair<std::string_view, std::string_view>> keys) {
  std::optional<base::PgStatement> st = PrefetchStatement(keys);
  if (!st.has_value()) return absl::OkStatus();
  CMO_ASSIGN_OR_RETURN(base::PgResult r, db_.Exec(*st));
  return TakePrefetched(r);
}

absl::StatusOr<std::optional<PgVersion>> PgRowWriter::Version(std::string_view domain,
                                                              std::string_view key) const {
  auto it = current_.find(Key(domain, key));
  if (it == current_.end()) {
    return absl::InternalError(base::StrCat("row ", domain, "/", key, " was not prefetched"));
  }
  return it->second;
}

void PgRowWriter::Known(const Row& row) {
  current_[Key(row.domain, row.key)] = PgVersion{row.lsn, RowHash(row)};
}

absl::Status PgRowWriter::Put(const Row& row) {
  CMO_ASSIGN_OR_RETURN(std::optional<PgVersion> old, Version(row.domain, row.key));
  const uint64_t hash = RowHash(row);
  Delta& d = digests_[{row.domain, DigestBucket(row.key, bits_)}];
  d.sum += hash - (old.has_value() ? old->hash : 0);
  d.rows += old.has_value() ? 0 : 1;
  current_[Key(row.domain, row.key)] = PgVersion{row.lsn, hash};
  pending_[Key(row.domain, row.key)] = row;
  return absl::OkStatus();
}

absl::Status PgRowWriter::Delete(std::string_view domain, std::string_view key) {
  CMO_ASSIGN_OR_RETURN(std::optional<PgVersion> old, Version(domain, key));
  if (!old.has_value()) return absl::OkStatus();
  Delta& d = digests_[{std::string(domain), DigestBucket(key, bits_)}];
  d.sum -= old->hash;
  d.rows -= 1;
  current_[Key(domain, key)] = std::nullopt;
  pending_[Key(domain, key)] = std::nullopt;
  return absl::OkStatus();
}

absl::Status PgRowWriter::Flush() {
  const std::vector<base::PgStatement> statements = FlushStatements();
  if (statements.empty()) return absl::OkStatus();
  return db_.ExecPipeline(statements).status();
}

std::vector<base::PgStatement> PgRowWriter::FlushStatements() {
  std::vector<base::PgStatement> out;
  using T = PgArray::Type;
  PgArray del_domains(T::kText), del_buckets(T::kInt4), del_keys(T::kBytea);
  PgArray domains(T::kText), buckets(T::kInt4), keys(T::kBytea), values(T::kBytea), lsns(T::kInt8),
      tombstones(T::kBool), commit_ms(T::kInt8), offsets(T::kInt8), hashes(T::kInt8), ops(T::kText),
      subjects(T::kText), depends_on(T::kInt8);
  int deletes = 0, puts = 0;
  for (auto& [key, row] : pending_) {
    if (!row.has_value()) {
      del_domains.Add(key.first);
      del_buckets.Add(int64_t{DigestBucket(key.second, bits_)});
      del_keys.Add(key.second);
      ++deletes;
      continue;
    }
    domains.Add(row->domain);
    buckets.Add(int64_t{DigestBucket(row->key, bits_)});
    keys.Add(row->key);
    values.Add(row->value);
    lsns.Add(row->lsn);
    tombstones.Add(row->tombstone);
    commit_ms.Add(absl::ToUnixMillis(row->commit_time));
    offsets.Add(row->kafka_offset);
    hashes.Add(AsStored(RowHash(*row)));
    ops.Add(row->op);
    subjects.Add(row->subject);
    depends_on.Add(row->depends_on);
    ++puts;
  }
  pending_.clear();
  if (deletes > 0) {
    out.push_back(PgStatementOf(
        "DELETE FROM rows r USING unnest($1::text[], $2::int[], $3::bytea[]) AS "
        "k(domain, bucket, key) WHERE r.domain = k.domain AND r.bucket = k.bucket AND "
        "r.key = k.key",
        {std::move(del_domains).Done(), std::move(del_buckets).Done(),
         std::move(del_keys).Done()}));
  }
  if (puts > 0) {
    out.push_back(PgStatementOf(
        "INSERT INTO rows (domain, bucket, key, value, lsn, tombstone, commit_ms, kafka_offset, "
        "hash, op, subject, depends_on) SELECT * FROM unnest($1::text[], $2::int[], "
        "$3::bytea[], $4::bytea[], $5::bigint[], $6::bool[], $7::bigint[], $8::bigint[], "
        "$9::bigint[], $10::text[], $11::text[], $12::bigint[]) ON CONFLICT (domain, bucket, "
        "key) DO UPDATE SET value = EXCLUDED.value, lsn = EXCLUDED.lsn, tombstone = "
        "EXCLUDED.tombstone, commit_ms = EXCLUDED.commit_ms, kafka_offset = "
        "EXCLUDED.kafka_offset, hash = EXCLUDED.hash, op = EXCLUDED.op, subject = "
        "EXCLUDED.subject, depends_on = EXCLUDED.depends_on",
        {std::move(domains).Done(), std::move(buckets).Done(), std::move(keys).Done(),
         std::move(values).Done(), std::move(lsns).Done(), std::move(tombstones).Done(),
         std::move(commit_ms).Done(), std::move(offsets).Done(), std::move(hashes).Done(),
         std::move(ops).Done(), std::move(subjects).Done(), std::move(depends_on).Done()}));
  }
  AddDigestStatement(out);
  return out;
}

void PgRowWriter::AddDigestStatement(std::vector<base::PgStatement>& out) {
  if (digests_.empty()) return;
  using T = PgArray::Type;
  PgArray domains(T::kText), buckets(T::kInt4), los(T::kInt8), his(T::kInt8), rows(T::kInt8);
  for (const auto& [where, d] : digests_) {
    domains.Add(where.first);
    buckets.Add(int64_t{where.second});
    los.Add(static_cast<int64_t>(d.sum & 0xffffffffu));
    his.Add(static_cast<int64_t>(d.sum >> 32));
    rows.Add(d.rows);
  }
  digests_.clear();
  // sum mod 2^64 in two 32-bit halves: every intermediate stays below 2^34 (see the schema).
  out.push_back(PgStatementOf(
      "INSERT INTO digests (domain, bucket, lo, hi, rows) SELECT * FROM unnest($1::text[], "
      "$2::int[], $3::bigint[], $4::bigint[], $5::bigint[]) ON CONFLICT (domain, bucket) DO "
      "UPDATE SET lo = (digests.lo + EXCLUDED.lo) % 4294967296, hi = (digests.hi + EXCLUDED.hi + "
      "(digests.lo + EXCLUDED.lo) / 4294967296) % 4294967296, rows = digests.rows + "
      "EXCLUDED.rows",
      {std::move(domains).Done(), std::move(buckets).Done(), std::move(los).Done(),
       std::move(his).Done(), std::move(rows).Done()}));
}

absl::StatusOr<std::optional<Row>> PgGetRow(base::PgConnection& db, int bits,
                                            std::string_view domain, std::string_view key) {
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db.Exec(base::StrCat("SELECT ", kRowColumns,
                           " FROM rows WHERE domain = $1 AND bucket = $2 AND key = $3"),
              {std::string(domain), std::to_string(DigestBucket(key, bits)), ByteaParam(key)}));
  if (r.rows() == 0) return std::optional<Row>();
  CMO_ASSIGN_OR_RETURN(Row row, ReadRow(r, 0, domain));
  return std::optional<Row>(std::move(row));
}

absl::StatusOr<std::vector<uint64_t>> PgDigests(base::PgConnection& db, std::string_view domain,
                                                int bits) {
  std::vector<uint64_t> out(size_t{1} << bits, 0);
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db.Exec("SELECT bucket, lo, hi FROM digests WHERE domain = $1", {std::string(domain)}));
  for (int i = 0; i < r.rows(); ++i) {
    CMO_ASSIGN_OR_RETURN(int64_t bucket, r.Int(i, 0));
    CMO_ASSIGN_OR_RETURN(int64_t lo, r.Int(i, 1));
    CMO_ASSIGN_OR_RETURN(int64_t hi, r.Int(i, 2));
    if (bucket < 0 || static_cast<size_t>(bucket) >= out.size()) {
      return absl::DataLossError(base::StrCat("digests holds bucket ", bucket, " of ", out.size(),
                                              "; the table was changed by hand"));
    }
    out[static_cast<size_t>(bucket)] =
        static_cast<uint64_t>(lo) | (static_cast<uint64_t>(hi) << 32);
  }
  return out;
}

absl::StatusOr<std::vector<Row>> PgRowsInBuckets(base::PgConnection& db, std::string_view domain,
                                                 std::span<const uint32_t> buckets) {
  PgArray list(PgArray::Type::kInt4);
  for (uint32_t b : buckets) list.Add(int64_t{b});
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db.Exec(PgStatementOf(base::StrCat("SELECT ", kRowColumns,
                                         " FROM rows WHERE domain = $1 AND bucket = "
                                         "ANY($2::int[]) ORDER BY bucket, key"),
                            {std::string(domain), std::move(list).Done()})));
  return ReadRows(r, domain);
}

absl::StatusOr<std::vector<RowSummary>> PgSummariesInBuckets(base::PgConnection& db,
                                                             std::string_view domain,
                                                             std::span<const uint32_t> buckets) {
  PgArray list(PgArray::Type::kInt4);
  for (uint32_t b : buckets) list.Add(int64_t{b});
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db.Exec(PgStatementOf("SELECT key, hash FROM rows WHERE domain = $1 AND bucket = "
                            "ANY($2::int[])",
                            {std::string(domain), std::move(list).Done()})));
  std::vector<RowSummary> out(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    RowSummary& s = out[static_cast<size_t>(i)];
    CMO_ASSIGN_OR_RETURN(s.key, ByteaValue(r.Text(i, 0)));
    CMO_ASSIGN_OR_RETURN(int64_t hash, r.Int(i, 1));
    s.hash = static_cast<uint64_t>(hash);
  }
  return out;
}

absl::StatusOr<std::vector<Row>> PgRowsOfKeys(base::PgConnection& db, int bits,
                                              std::string_view domain,
                                              std::span<const std::string> keys) {
  PgArray buckets(PgArray::Type::kInt4), names(PgArray::Type::kBytea);
  for (const std::string& key : keys) {
    buckets.Add(int64_t{DigestBucket(key, bits)});
    names.Add(key);
  }
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db.Exec(PgStatementOf(
          base::StrCat(
              "SELECT ", kRowColumns,
              " FROM unnest($2::int[], $3::bytea[]) AS k(b, n) CROSS JOIN LATERAL "
              "(SELECT * FROM rows WHERE domain = $1 AND bucket = k.b AND key = k.n LIMIT 1) r"),
          {std::string(domain), std::move(buckets).Done(), std::move(names).Done()})));
  return ReadRows(r, domain);
}

absl::StatusOr<std::vector<Row>> PgRowsInBucket(base::PgConnection& db, std::string_view domain,
                                                uint32_t bucket) {
  return PgRowsInBuckets(db, domain, std::span<const uint32_t>(&bucket, 1));
}

absl::Status PgScan(base::PgConnection& db, std::string_view domain,
                    const std::function<void(uint32_t bucket, const Row& row)>& fn) {
  std::optional<std::pair<int64_t, std::string>> after;  // keyset paging: no OFFSET rescans
  while (true) {
    absl::StatusOr<base::PgResult> page =
        after.has_value()
            ? db.Exec(base::StrCat("SELECT ", kRowColumns,
                                   " FROM rows WHERE domain = $1 AND (bucket, key) > ($2, $3) "
                                   "ORDER BY bucket, key LIMIT $4"),
                      {std::string(domain), std::to_string(after->first), ByteaParam(after->second),
                       std::to_string(kScanPage)})
            : db.Exec(base::StrCat("SELECT ", kRowColumns,
                                   " FROM rows WHERE domain = $1 ORDER BY bucket, key LIMIT $2"),
                      {std::string(domain), std::to_string(kScanPage)});
    if (!page.ok()) return page.status();
    for (int i = 0; i < page->rows(); ++i) {
      CMO_ASSIGN_OR_RETURN(Row row, ReadRow(*page, i, domain));
      CMO_ASSIGN_OR_RETURN(int64_t bucket, page->Int(i, 6));
      fn(static_cast<uint32_t>(bucket), row);
      after = std::make_pair(bucket, std::move(row.key));
    }
    if (page->rows() < kScanPage) return absl::OkStatus();
  }
}

absl::StatusOr<int64_t> PgCountRows(base::PgConnection& db, std::string_view domain) {
  CMO_ASSIGN_OR_RETURN(base::PgResult r, db.Exec("SELECT count(*) FROM rows WHERE domain = $1",
                                                 {std::string(domain)}));
  return r.Int(0, 0);
}

absl::StatusOr<std::vector<std::string>> PgDomains(base::PgConnection& db) {
  CMO_ASSIGN_OR_RETURN(base::PgResult r,
                       db.Exec("SELECT DISTINCT domain FROM digests ORDER BY domain"));
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.Text(i, 0));
  return out;
}

absl::StatusOr<int64_t> PgCollectTombstones(base::PgConnection& db, int bits,
                                            std::string_view domain, absl::Time cutoff,
                                            int64_t limit) {
  CMO_ASSIGN_OR_RETURN(
      base::PgResult r,
      db.Exec(base::StrCat("SELECT ", kRowColumns,
                           " FROM rows WHERE domain = $1 AND tombstone AND commit_ms < $2 "
                           "LIMIT $3"),
              {std::string(domain), std::to_string(absl::ToUnixMillis(cutoff)),
               std::to_string(limit)}));
  PgRowWriter writer(db, bits);
  int64_t max_lsn = 0;
  for (int i = 0; i < r.rows(); ++i) {
    CMO_ASSIGN_OR_RETURN(Row row, ReadRow(r, i, domain));
    writer.Known(row);
    CMO_RETURN_IF_ERROR(writer.Delete(row.domain, row.key));
    max_lsn = std::max(max_lsn, row.lsn);
  }
  CMO_RETURN_IF_ERROR(writer.Flush());
  CMO_RETURN_IF_ERROR(RaiseSetting(db, "tombstone_horizon_ms", absl::ToUnixMillis(cutoff)));
  CMO_RETURN_IF_ERROR(RaiseSetting(db, "collected_through_lsn", max_lsn));
  return r.rows();
}

absl::StatusOr<absl::Time> PgTombstoneHorizon(base::PgConnection& db) {
  CMO_ASSIGN_OR_RETURN(int64_t ms, PgSetting(db, "tombstone_horizon_ms"));
  return ms == 0 ? absl::InfinitePast() : absl::FromUnixMillis(ms);
}

}  // namespace cmo::store::internal
