#include "migrations/plan_store.h"

#include "base/sql.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::migrations {
namespace {

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE plans (
  name TEXT PRIMARY KEY, file TEXT NOT NULL, content TEXT NOT NULL, digest TEXT NOT NULL,
  applied_at_ms INTEGER NOT NULL) STRICT;
CREATE TABLE plan_progress (
  op TEXT PRIMARY KEY, plan TEXT NOT NULL, phase TEXT NOT NULL, step INTEGER NOT NULL,
  step_started_ms INTEGER NOT NULL, held_since_ms INTEGER, paused INTEGER NOT NULL,
  pause_reason TEXT NOT NULL, manual_approved INTEGER NOT NULL) STRICT;
CREATE TABLE metrics (
  op TEXT NOT NULL, metric TEXT NOT NULL, value INTEGER NOT NULL, at_ms INTEGER NOT NULL,
  PRIMARY KEY (op, metric)) STRICT;
)sql";

// Operator settings of the control plane (`cmo settings`), e.g. max_step.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
)sql";

constexpr std::string_view kPgSchemaV1 = R"sql(
CREATE TABLE plans (
  name TEXT PRIMARY KEY, file TEXT NOT NULL, content TEXT NOT NULL, digest TEXT NOT NULL,
  applied_at_ms BIGINT NOT NULL);
CREATE TABLE plan_progress (
  op TEXT PRIMARY KEY, plan TEXT NOT NULL, phase TEXT NOT NULL, step BIGINT NOT NULL,
  step_started_ms BIGINT NOT NULL, held_since_ms BIGINT, paused BIGINT NOT NULL,
  pause_reason TEXT NOT NULL, manual_approved BIGINT NOT NULL);
CREATE TABLE metrics (
  op TEXT NOT NULL, metric TEXT NOT NULL, value BIGINT NOT NULL, at_ms BIGINT NOT NULL,
  PRIMARY KEY (op, metric));
)sql";

constexpr std::string_view kPgSchemaV2 = R"sql(
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql";

constexpr std::string_view kProgressColumns =
    "SELECT op, plan, phase, step, step_started_ms, held_since_ms, paused, pause_reason, "
    "manual_approved FROM plan_progress";

OpProgress ReadProgress(base::SqlStatement::Scope& s) {
  OpProgress p;
  p.op = s->ColumnText(0);
  p.plan = s->ColumnText(1);
  p.phase = s->ColumnText(2);
  p.step = static_cast<int>(s->ColumnInt(3));
  p.step_started = absl::FromUnixMillis(s->ColumnInt(4));
  if (!s->ColumnIsNull(5)) p.held_since = absl::FromUnixMillis(s->ColumnInt(5));
  p.paused = s->ColumnInt(6) != 0;
  p.pause_reason = s->ColumnText(7);
  p.manual_approved = s->ColumnInt(8) != 0;
  return p;
}

}  // namespace

nlohmann::json ProgressToJson(const OpProgress& p) {
  return {
      {"op", p.op},
      {"plan", p.plan},
      {"phase", p.phase},
      {"step", p.step},
      {"step_started_ms", absl::ToUnixMillis(p.step_started)},
      {"held_since_ms", p.held_since.has_value() ? nlohmann::json(absl::ToUnixMillis(*p.held_since))
                                                 : nlohmann::json()},
      {"paused", p.paused},
      {"pause_reason", p.pause_reason},
      {"manual_approved", p.manual_approved}};
}

absl::StatusOr<std::unique_ptr<PlanStore>> PlanStore::Open(base::SqlDb& db) {
  CMO_RETURN_IF_ERROR(
      base::MigrateSchema(db, "migrations", {kSchemaV1, kSchemaV2}, {kPgSchemaV1, kPgSchemaV2}));
  return std::unique_ptr<PlanStore>(new PlanStore(db));
}

absl::StatusOr<std::optional<StoredPlan>> PlanStore::GetPlan(std::string_view name) {
  CMO_ASSIGN_OR_RETURN(std::vector<StoredPlan> all, Plans());
  for (StoredPlan& p : all) {
    if (p.name == name) return std::optional<StoredPlan>(std::move(p));
  }
  return std::optional<StoredPlan>();
}

absl::StatusOr<std::vector<StoredPlan>> PlanStore::Plans() {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("SELECT name, file, content, digest, applied_at_ms FROM plans ORDER BY name"));
  base::SqlStatement::Scope s(*stmt);
  std::vector<StoredPlan> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] {
    out.push_back({s->ColumnText(0), s->ColumnText(1), s->ColumnText(2), s->ColumnText(3),
                   absl::FromUnixMillis(s->ColumnInt(4))});
  }));
  return out;
}

absl::Status PlanStore::PutPlan(const StoredPlan& p) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("INSERT INTO plans (name, file, content, digest, applied_at_ms) VALUES "
                   "(?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET file = ?2, "
                   "content = ?3, digest = ?4, applied_at_ms = ?5"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, p.name)
      .Bind(2, p.file)
      .Bind(3, p.content)
      .Bind(4, p.digest)
      .Bind(5, absl::ToUnixMillis(p.applied_at));
  return s->Run();
}

absl::StatusOr<std::vector<OpProgress>> PlanStore::AllProgress() {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_.Prepared(base::StrCat(kProgressColumns, " ORDER BY op")));
  base::SqlStatement::Scope s(*stmt);
  std::vector<OpProgress> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] { out.push_back(ReadProgress(s)); }));
  return out;
}

absl::StatusOr<std::optional<OpProgress>> PlanStore::Progress(std::string_view op) {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_.Prepared(base::StrCat(kProgressColumns, " WHERE op = ?1")));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, op);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<OpProgress>();
  return std::optional<OpProgress>(ReadProgress(s));
}

absl::Status PlanStore::PutProgress(const OpProgress& p) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("INSERT INTO plan_progress (op, plan, phase, step, step_started_ms, "
                   "held_since_ms, paused, pause_reason, manual_approved) VALUES (?1, ?2, ?3, "
                   "?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (op) DO UPDATE SET plan = ?2, "
                   "phase = ?3, step = ?4, step_started_ms = ?5, held_since_ms = ?6, "
                   "paused = ?7, pause_reason = ?8, manual_approved = ?9"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, p.op)
      .Bind(2, p.plan)
      .Bind(3, p.phase)
      .Bind(4, int64_t{p.step})
      .Bind(5, absl::ToUnixMillis(p.step_started))
      .Bind(7, int64_t{p.paused})
      .Bind(8, p.pause_reason)
      .Bind(9, int64_t{p.manual_approved});
  if (p.held_since.has_value()) {
    s->Bind(6, absl::ToUnixMillis(*p.held_since));
  } else {
    s->BindNull(6);
  }
  return s->Run();
}

absl::Status PlanStore::DeleteProgress(std::string_view op) {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_.Prepared("DELETE FROM plan_progress WHERE op = ?1"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, op);
  return s->Run();
}

absl::Status PlanStore::SetMetric(std::string_view op, Metric metric, int64_t value,
                                  absl::Time at) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("INSERT INTO metrics (op, metric, value, at_ms) VALUES (?1, ?2, ?3, ?4) "
                   "ON CONFLICT (op, metric) DO UPDATE SET value = ?3, at_ms = ?4"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, op).Bind(2, MetricName(metric)).Bind(3, value).Bind(4, absl::ToUnixMillis(at));
  return s->Run();
}

absl::StatusOr<std::optional<std::pair<int64_t, absl::Time>>> PlanStore::GetMetric(
    std::string_view op, Metric metric) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("SELECT value, at_ms FROM metrics WHERE op = ?1 AND metric = ?2"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, op).Bind(2, MetricName(metric));
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<std::pair<int64_t, absl::Time>>();
  return std::optional<std::pair<int64_t, absl::Time>>(
      std::make_pair(s->ColumnInt(0), absl::FromUnixMillis(s->ColumnInt(1))));
}

absl::StatusOr<std::optional<std::string>> PlanStore::GetSetting(std::string_view name) {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_.Prepared("SELECT value FROM settings WHERE name = ?1"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, name);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s->ColumnText(0));
}

absl::Status PlanStore::PutSetting(std::string_view name, std::string_view value) {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_.Prepared("INSERT INTO settings (name, value) VALUES (?1, ?2) "
                                    "ON CONFLICT (name) DO UPDATE SET value = ?2"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, name).Bind(2, value);
  return s->Run();
}

std::optional<int64_t> StoredMetrics::Latest(std::string_view op, Metric metric) {
  auto m = store_.GetMetric(op, metric);
  if (!m.ok() || !m->has_value()) return std::nullopt;
  if (clock_.Now() - (*m)->second > max_age_) return std::nullopt;
  return (*m)->first;
}

}  // namespace cmo::migrations
