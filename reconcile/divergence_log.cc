#include "reconcile/divergence_log.h"

#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "reconcile/reconciler.h"

namespace cmo::reconcile {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE divergences (
  id INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT NOT NULL, key TEXT NOT NULL,
  subject TEXT NOT NULL, op TEXT NOT NULL, class TEXT NOT NULL, region TEXT NOT NULL,
  primary_lsn INTEGER NOT NULL, replica_lsn INTEGER NOT NULL, partition INTEGER NOT NULL,
  kafka_offset INTEGER NOT NULL, primary_digest TEXT NOT NULL, replica_digest TEXT NOT NULL,
  detected_by TEXT NOT NULL, detected_ms INTEGER NOT NULL, healed_ms INTEGER,
  heal_action TEXT NOT NULL) STRICT;
CREATE INDEX divergences_by_subject ON divergences (subject, detected_ms);
CREATE INDEX divergences_by_key ON divergences (domain, key, region);
)sql";

constexpr std::string_view kPgSchema = R"sql(
CREATE TABLE divergences (
  id BIGSERIAL PRIMARY KEY, domain TEXT NOT NULL, key TEXT NOT NULL,
  subject TEXT NOT NULL, op TEXT NOT NULL, class TEXT NOT NULL, region TEXT NOT NULL,
  primary_lsn BIGINT NOT NULL, replica_lsn BIGINT NOT NULL, partition BIGINT NOT NULL,
  kafka_offset BIGINT NOT NULL, primary_digest TEXT NOT NULL, replica_digest TEXT NOT NULL,
  detected_by TEXT NOT NULL, detected_ms BIGINT NOT NULL, healed_ms BIGINT,
  heal_action TEXT NOT NULL);
CREATE INDEX divergences_by_subject ON divergences (subject, detected_ms);
CREATE INDEX divergences_by_key ON divergences (domain, key, region);
)sql";

constexpr std::string_view kColumns =
    "id, domain, key, subject, op, class, region, primary_lsn, replica_lsn, partition, "
    "kafka_offset, primary_digest, replica_digest, detected_by, detected_ms, healed_ms, "
    "heal_action";

}  // namespace

DivergenceRecord FromKeyDiff(const KeyDiff& d, const std::string& region, int32_t partition,
                             absl::Time now) {
  auto hex = [](uint64_t h) { return h == 0 ? std::string() : absl::StrFormat("%016x", h); };
  DivergenceRecord r;
  r.domain = d.domain;
  r.key = d.key;
  r.op = d.op;
  r.subject = d.subject;
  r.diff_class = std::string(DiffClassName(d.diff_class));
  r.region = region;
  r.primary_lsn = d.primary_lsn;
  r.replica_lsn = d.replica_lsn;
  r.partition = partition;
  r.offset = d.replica_offset;
  r.primary_digest = hex(d.primary_hash);
  r.replica_digest = hex(d.replica_hash);
  r.detected_by = "reconcile";
  r.detected_at = now;
  if (!d.heal.empty()) {
    r.healed_at = now;
    r.heal_action = d.heal;
  }
  return r;
}

absl::StatusOr<std::unique_ptr<DivergenceLog>> DivergenceLog::Open(base::SqlDb& db) {
  CMO_RETURN_IF_ERROR(base::MigrateSchema(db, "divergences", {kSchema}, {kPgSchema}));
  return std::unique_ptr<DivergenceLog>(new DivergenceLog(db));
}

absl::StatusOr<int64_t> DivergenceLog::Append(const DivergenceRecord& r) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("INSERT INTO divergences (domain, key, subject, op, class, region, primary_lsn, "
                   "replica_lsn, partition, kafka_offset, primary_digest, replica_digest, "
                   "detected_by, detected_ms, healed_ms, heal_action) VALUES (?1, ?2, ?3, ?4, ?5, "
                   "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) RETURNING id"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, r.domain)
      .Bind(2, r.key)
      .Bind(3, r.subject)
      .Bind(4, r.op)
      .Bind(5, r.diff_class)
      .Bind(6, r.region)
      .Bind(7, r.primary_lsn)
      .Bind(8, r.replica_lsn)
      .Bind(9, int64_t{r.partition})
      .Bind(10, r.offset)
      .Bind(11, r.primary_digest)
      .Bind(12, r.replica_digest)
      .Bind(13, r.detected_by)
      .Bind(14, absl::ToUnixMillis(r.detected_at));
  if (r.healed_at.has_value()) {
    s->Bind(15, absl::ToUnixMillis(*r.healed_at));
  } else {
    s->BindNull(15);
  }
  s->Bind(16, r.heal_action);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::InternalError("insert into divergences returned no id");
  return s->ColumnInt(0);
}

absl::Status DivergenceLog::Append(const std::vector<DivergenceRecord>& records) {
  if (records.empty()) return absl::OkStatus();
  CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(db_));
  for (const DivergenceRecord& r : records) CMO_RETURN_IF_ERROR(Append(r).status());
  return txn->Commit();
}

absl::StatusOr<std::vector<DivergenceRecord>> DivergenceLog::Find(const DivergenceQuery& q) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared(std::string("SELECT ") + std::string(kColumns) +
                   " FROM divergences WHERE (?1 = '' OR subject = ?1) AND (?2 = '' OR op = ?2) "
                   "AND (?3 = '' OR domain = ?3) AND (?4 = '' OR key = ?4) AND detected_ms >= ?5 "
                   "ORDER BY detected_ms, id LIMIT ?6"));
  base::SqlStatement::Scope s(*stmt);
  const int64_t since = q.since == absl::InfinitePast() ? INT64_MIN : absl::ToUnixMillis(q.since);
  s->Bind(1, q.subject)
      .Bind(2, q.op)
      .Bind(3, q.domain)
      .Bind(4, q.key)
      .Bind(5, since)
      .Bind(6, int64_t{q.limit});
  std::vector<DivergenceRecord> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] {
    DivergenceRecord r;
    r.id = s->ColumnInt(0);
    r.domain = s->ColumnText(1);
    r.key = s->ColumnText(2);
    r.subject = s->ColumnText(3);
    r.op = s->ColumnText(4);
    r.diff_class = s->ColumnText(5);
    r.region = s->ColumnText(6);
    r.primary_lsn = s->ColumnInt(7);
    r.replica_lsn = s->ColumnInt(8);
    r.partition = static_cast<int32_t>(s->ColumnInt(9));
    r.offset = s->ColumnInt(10);
    r.primary_digest = s->ColumnText(11);
    r.replica_digest = s->ColumnText(12);
    r.detected_by = s->ColumnText(13);
    r.detected_at = absl::FromUnixMillis(s->ColumnInt(14));
    if (!s->ColumnIsNull(15)) r.healed_at = absl::FromUnixMillis(s->ColumnInt(15));
    r.heal_action = s->ColumnText(16);
    out.push_back(std::move(r));
  }));
  return out;
}

absl::Status DivergenceLog::MarkHealed(const std::string& domain, const std::string& key,
                                       const std::string& region, absl::Time at,
                                       const std::string& action) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("UPDATE divergences SET healed_ms = ?4, heal_action = ?5 WHERE domain = ?1 AND "
                   "key = ?2 AND region = ?3 AND healed_ms IS NULL"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, domain).Bind(2, key).Bind(3, region).Bind(4, absl::ToUnixMillis(at)).Bind(5, action);
  return s->Run();
}

}  // namespace cmo::reconcile
