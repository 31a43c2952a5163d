#include "flags/flag_store.h"

#include "base/db_url.h"
#include "base/json.h"
#include "base/sql.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "flags/flag_json.h"
#include "flags/override_store.h"
#include "flags/tier_store.h"

namespace cmo::flags {
namespace {

// Schema migrations, in order; never edit a shipped one, append a new one.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL) STRICT;
INSERT INTO revision VALUES (1, 0);
CREATE TABLE flags (
  op TEXT PRIMARY KEY, domain TEXT NOT NULL, class TEXT NOT NULL, target TEXT NOT NULL,
  stage TEXT NOT NULL, ramp_bp INTEGER NOT NULL, shadow_bp INTEGER NOT NULL, salt TEXT NOT NULL,
  breaker TEXT NOT NULL, probe_bp INTEGER NOT NULL, revision INTEGER NOT NULL) STRICT;
CREATE TABLE audit (
  revision INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, actor TEXT NOT NULL, op TEXT NOT NULL,
  action TEXT NOT NULL, before TEXT, after TEXT NOT NULL, reason TEXT NOT NULL) STRICT;
CREATE INDEX audit_by_op ON audit (op, revision);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

// Notices: audit entries that change nothing (refused API calls). They keep their own table so
// that recording one never takes a revision: a flood of refusals must not make every client
// reload its flags.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE notices (
  id INTEGER PRIMARY KEY, revision INTEGER NOT NULL, at_ms INTEGER NOT NULL, actor TEXT NOT NULL,
  op TEXT NOT NULL, action TEXT NOT NULL, after TEXT NOT NULL, reason TEXT NOT NULL) STRICT;
CREATE INDEX notices_by_op ON notices (op, revision);
CREATE TRIGGER notices_no_update BEFORE UPDATE ON notices
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER notices_no_delete BEFORE DELETE ON notices
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

// The same tables on PostgreSQL (one control state shared by several `cmo serve` instances).
constexpr std::string_view kPgSchemaV1 = R"sql(
CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL);
INSERT INTO revision VALUES (1, 0);
CREATE TABLE flags (
  op TEXT PRIMARY KEY, domain TEXT NOT NULL, class TEXT NOT NULL, target TEXT NOT NULL,
  stage TEXT NOT NULL, ramp_bp BIGINT NOT NULL, shadow_bp BIGINT NOT NULL, salt TEXT NOT NULL,
  breaker TEXT NOT NULL, probe_bp BIGINT NOT NULL, revision BIGINT NOT NULL);
CREATE TABLE audit (
  revision BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, op TEXT NOT NULL,
  action TEXT NOT NULL, before TEXT, after TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX audit_by_op ON audit (op, revision);
CREATE FUNCTION cmo_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION cmo_append_only();
)sql";

constexpr std::string_view kPgSchemaV2 = R"sql(
CREATE TABLE notices (
  id BIGSERIAL PRIMARY KEY, revision BIGINT NOT NULL, at_ms BIGINT NOT NULL,
  actor TEXT NOT NULL, op TEXT NOT NULL, action TEXT NOT NULL, after TEXT NOT NULL,
  reason TEXT NOT NULL);
CREATE INDEX notices_by_op ON notices (op, revision);
CREATE TRIGGER notices_append_only BEFORE UPDATE OR DELETE ON notices
  FOR EACH ROW EXECUTE FUNCTION cmo_append_only();
)sql";

// Support overrides (flags/override.h, flags/override_store.cc).
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE overrides (
  id INTEGER PRIMARY KEY AUTOINCREMENT, subject TEXT NOT NULL, op TEXT NOT NULL,
  domain TEXT NOT NULL,
  expires_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, actor TEXT NOT NULL,
  reason TEXT NOT NULL) STRICT;
CREATE INDEX overrides_by_expiry ON overrides (expires_ms);
)sql";

constexpr std::string_view kPgSchemaV3 = R"sql(
CREATE TABLE overrides (
  id BIGSERIAL PRIMARY KEY, subject TEXT NOT NULL, op TEXT NOT NULL, domain TEXT NOT NULL,
  expires_ms BIGINT NOT NULL, created_ms BIGINT NOT NULL, actor TEXT NOT NULL,
  reason TEXT NOT NULL);
CREATE INDEX overrides_by_expiry ON overrides (expires_ms);
)sql";

// Subject tiers (flags/tier.h, flags/tier_store.cc): one row per tier of an applied plan, its
// definition and current heavy writers as TierToJson.
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE tiers (
  plan TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL, definition TEXT NOT NULL,
  PRIMARY KEY (plan, name)) STRICT;
)sql";

constexpr std::string_view kPgSchemaV4 = R"sql(
CREATE TABLE tiers (
  plan TEXT NOT NULL, name TEXT NOT NULL, position BIGINT NOT NULL, definition TEXT NOT NULL,
  PRIMARY KEY (plan, name));
)sql";

// Influence amplification guards (flags/amplifier.h): one row per guarded write op of a plan.
constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE amplifiers (
  plan TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL, definition TEXT NOT NULL,
  PRIMARY KEY (plan, name)) STRICT;
)sql";

constexpr std::string_view kPgSchemaV5 = R"sql(
CREATE TABLE amplifiers (
  plan TEXT NOT NULL, name TEXT NOT NULL, position BIGINT NOT NULL, definition TEXT NOT NULL,
  PRIMARY KEY (plan, name));
)sql";

constexpr std::string_view kSelectFlags =
    "SELECT op, domain, class, target, stage, ramp_bp, shadow_bp, salt, breaker, probe_bp, "
    "revision FROM flags";

absl::StatusOr<Flag> ReadFlagRow(base::SqlStatement::Scope& s, const std::string& db_path) {
  Flag f;
  f.op = s->ColumnText(0);
  f.domain = s->ColumnText(1);
  auto cls = ParseOpClass(s->ColumnText(2));
  auto target = ParseTarget(s->ColumnText(3));
  auto stage = ParseStage(s->ColumnText(4));
  auto breaker = ParseBreakerState(s->ColumnText(8));
  for (const absl::Status& st : {cls.status(), target.status(), stage.status(), breaker.status()}) {
    if (!st.ok()) {
      return absl::DataLossError(base::StrCat(db_path, ": flag ", f.op, " is unreadable (",
                                              st.message(),
                                              "); restore the state dir from backup"));
    }
  }
  f.op_class = *cls;
  f.target = *target;
  f.stage = *stage;
  f.ramp_bp = static_cast<int32_t>(s->ColumnInt(5));
  f.shadow_bp = static_cast<int32_t>(s->ColumnInt(6));
  f.salt = s->ColumnText(7);
  f.breaker = *breaker;
  f.probe_bp = static_cast<int32_t>(s->ColumnInt(9));
  f.revision = s->ColumnInt(10);
  return f;
}

// ?1..?5 and ?7, ?8 of an audit or notice INSERT: the columns both kinds of entry have.
void BindEntry(base::SqlStatement::Scope& s, int64_t revision, absl::Time at, std::string_view op,
               const ChangeContext& ctx, const nlohmann::json& after) {
  s->Bind(1, revision)
      .Bind(2, absl::ToUnixMillis(at))
      .Bind(3, ctx.actor)
      .Bind(4, op)
      .Bind(5, ctx.action)
      .Bind(7, base::JsonText(after))
      .Bind(8, ctx.reason);
}

}  // namespace

FlagStore::FlagStore(std::unique_ptr<base::SqlDb> db, const base::Clock& clock)
    : db_(std::move(db)), clock_(clock) {}

FlagStore::~FlagStore() = default;

absl::StatusOr<std::unique_ptr<FlagStore>> FlagStore::Open(const std::string& url,
                                                           const base::Clock& clock) {
  CMO_ASSIGN_OR_RETURN(auto db, base::OpenSqlDb(url));
  CMO_RETURN_IF_ERROR(
      base::MigrateSchema(*db, "flags", {kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4, kSchemaV5},
                          {kPgSchemaV1, kPgSchemaV2, kPgSchemaV3, kPgSchemaV4, kPgSchemaV5}));
  return std::unique_ptr<FlagStore>(new FlagStore(std::move(db), clock));
}

absl::StatusOr<int64_t> FlagStore::Revision() {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_->Prepared("SELECT value FROM revision WHERE id = 1"));
  base::SqlStatement::Scope s(*stmt);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::DataLossError(base::StrCat(db_->where(), ": revision row is missing"));
  return s->ColumnInt(0);
}

absl::StatusOr<std::vector<Flag>> FlagStore::List() {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_->Prepared(base::StrCat(kSelectFlags, " ORDER BY op")));
  base::SqlStatement::Scope s(*stmt);
  std::vector<Flag> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&]() -> absl::Status {
    CMO_ASSIGN_OR_RETURN(Flag f, ReadFlagRow(s, db_->where()));
    out.push_back(std::move(f));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<Flag>> FlagStore::Find(std::string_view op) {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_->Prepared(base::StrCat(kSelectFlags, " WHERE op = ?1")));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, op);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<Flag>();
  CMO_ASSIGN_OR_RETURN(Flag f, ReadFlagRow(s, db_->where()));
  return std::optional<Flag>(std::move(f));
}

absl::Status FlagStore::NotFound(std::string_view op) {
  CMO_ASSIGN_OR_RETURN(std::vector<Flag> all, List());
  std::vector<std::string_view> names;
  for (const Flag& f : all) names.push_back(f.op);
  return absl::NotFoundError(
      base::StrCat("unknown op \"", op, "\"; ",
                   names.empty() ? "no ops are registered yet"
                                 : base::StrCat("registered ops: ", base::StrJoin(names, ", ")),
                   " — register it with `cmo ops add`"));
}

absl::StatusOr<Flag> FlagStore::Get(std::string_view op) {
  CMO_ASSIGN_OR_RETURN(std::optional<Flag> f, Find(op));
  if (!f.has_value()) return NotFound(op);
  return *std::move(f);
}

absl::StatusOr<std::shared_ptr<const Snapshot>> FlagStore::LoadSnapshot() {
  // One read transaction so the revision matches the flags read with it.
  CMO_ASSIGN_OR_RETURN(auto txn, base::ReadTransaction::Begin(*db_));
  CMO_ASSIGN_OR_RETURN(int64_t revision, Revision());
  CMO_ASSIGN_OR_RETURN(std::vector<Flag> flags, List());
  CMO_ASSIGN_OR_RETURN(std::vector<Override> overrides, ActiveOverrides(*db_, clock_.Now()));
  CMO_ASSIGN_OR_RETURN(std::vector<Tier> tiers, StoredTiers(*db_));
  CMO_ASSIGN_OR_RETURN(std::vector<Amplifier> amplifiers, StoredAmplifiers(*db_));
  return std::make_shared<const Snapshot>(revision, std::move(flags), std::move(overrides),
                                          std::move(tiers), std::move(amplifiers));
}

absl::StatusOr<int64_t> FlagStore::Write(const std::optional<Flag>& before, Flag& after,
                                         const ChangeContext& ctx) {
  CMO_ASSIGN_OR_RETURN(int64_t current, Revision());
  const int64_t revision = current + 1;
  after.revision = revision;
  {
    CMO_ASSIGN_OR_RETURN(
        base::SqlStatement * stmt,
        db_->Prepared("INSERT INTO flags (op, domain, class, target, stage, ramp_bp, shadow_bp, "
                      "salt, breaker, probe_bp, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                      "?9, ?10, ?11) ON CONFLICT (op) DO UPDATE SET domain = ?2, class = ?3, "
                      "target = ?4, stage = ?5, ramp_bp = ?6, shadow_bp = ?7, salt = ?8, "
                      "breaker = ?9, probe_bp = ?10, revision = ?11"));
    base::SqlStatement::Scope s(*stmt);
    s->Bind(1, after.op)
        .Bind(2, after.domain)
        .Bind(3, OpClassName(after.op_class))
        .Bind(4, TargetName(after.target))
        .Bind(5, StageName(after.stage))
        .Bind(6, int64_t{after.ramp_bp})
        .Bind(7, int64_t{after.shadow_bp})
        .Bind(8, after.salt)
        .Bind(9, BreakerStateName(after.breaker))
        .Bind(10, int64_t{after.probe_bp})
        .Bind(11, revision);
    CMO_RETURN_IF_ERROR(s->Run());
  }
  if (mid_change_hook_) mid_change_hook_();
  CMO_RETURN_IF_ERROR(AppendAudit(revision, after.op, ctx,
                                  before.has_value() ? FlagToJson(*before) : nlohmann::json(),
                                  FlagToJson(after)));
  CMO_RETURN_IF_ERROR(SetRevision(revision));
  return revision;
}

absl::StatusOr<Change> FlagStore::Add(Flag flag, const ChangeContext& ctx) {
  if (flag.salt.empty()) flag.salt = flag.domain;
  flag.stage = Stage::kStrong;
  flag.ramp_bp = 0;
  CMO_RETURN_IF_ERROR(ValidateFlag(flag));
  CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(*db_));
  CMO_ASSIGN_OR_RETURN(std::optional<Flag> existing, Find(flag.op));
  if (existing.has_value()) {
    return absl::AlreadyExistsError(
        base::StrCat("op ", flag.op, " is already registered (domain ", existing->domain,
                     ", stage ", StageName(existing->stage), "); pick another name"));
  }
  Change change{std::nullopt, flag, 0, true, ctx.dry_run};
  if (ctx.dry_run) {
    CMO_ASSIGN_OR_RETURN(change.revision, Revision());
    return change;
  }
  CMO_ASSIGN_OR_RETURN(change.revision, Write(std::nullopt, change.after, ctx));
  CMO_RETURN_IF_ERROR(txn->Commit());
  return change;
}

absl::StatusOr<Change> FlagStore::Update(std::string_view op, const ChangeContext& ctx,
                                         absl::FunctionRef<absl::Status(Flag&)> edit) {
  return Update(op, ctx, edit, [](const Change&) { return absl::OkStatus(); });
}

absl::StatusOr<int64_t> FlagStore::RecordEvent(std::string_view op, const ChangeContext& ctx,
                                               const nlohmann::json& before,
                                               const nlohmann::json& after) {
  return RecordEvent(op, ctx, [&](nlohmann::json& b, nlohmann::json& a) {
    b = before;
    a = after;
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> FlagStore::RecordEvent(
    std::string_view op, const ChangeContext& ctx,
    absl::FunctionRef<absl::Status(nlohmann::json& before, nlohmann::json& after)> in_txn) {
  CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(*db_));
  nlohmann::json before, after;
  CMO_RETURN_IF_ERROR(in_txn(before, after));
  CMO_ASSIGN_OR_RETURN(int64_t current, Revision());
  const int64_t revision = current + 1;
  CMO_RETURN_IF_ERROR(AppendAudit(revision, op, ctx, before, after));
  CMO_RETURN_IF_ERROR(SetRevision(revision));
  CMO_RETURN_IF_ERROR(txn->Commit());
  return revision;
}

absl::Status FlagStore::RecordNotice(std::string_view op, const ChangeContext& ctx,
                                     const nlohmann::json& after) {
  CMO_ASSIGN_OR_RETURN(int64_t revision, Revision());
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_->Prepared("INSERT INTO notices (revision, at_ms, actor, op, action, after, reason) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?8)"));
  base::SqlStatement::Scope s(*stmt);
  BindEntry(s, revision, clock_.Now(), op, ctx, after);
  return s->Run();
}

absl::Status FlagStore::AppendAudit(int64_t revision, std::string_view op, const ChangeContext& ctx,
                                    const nlohmann::json& before, const nlohmann::json& after) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_->Prepared("INSERT INTO audit (revision, at_ms, actor, op, action, before, after, "
                    "reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  base::SqlStatement::Scope s(*stmt);
  BindEntry(s, revision, clock_.Now(), op, ctx, after);
  if (before.is_null()) {
    s->BindNull(6);
  } else {
    s->Bind(6, base::JsonText(before));
  }
  return s->Run();
}

absl::Status FlagStore::SetRevision(int64_t revision) {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_->Prepared("UPDATE revision SET value = ?1 WHERE id = 1"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, revision);
  return s->Run();
}

absl::StatusOr<Change> FlagStore::Update(std::string_view op, const ChangeContext& ctx,
                                         absl::FunctionRef<absl::Status(Flag&)> edit,
                                         absl::FunctionRef<absl::Status(const Change&)> in_txn) {
  CMO_ASSIGN_OR_RETURN(auto txn, base::WriteTransaction::Begin(*db_));
  CMO_ASSIGN_OR_RETURN(std::optional<Flag> before, Find(op));
  if (!before.has_value()) return NotFound(op);
  Flag after = *before;
  CMO_RETURN_IF_ERROR(edit(after));
  CMO_RETURN_IF_ERROR(ValidateFlag(after));
  Change change{before, after, 0, !(after == *before), ctx.dry_run};
  if (ctx.dry_run) {
    CMO_ASSIGN_OR_RETURN(change.revision, Revision());
    return change;
  }
  if (change.changed) {
    CMO_ASSIGN_OR_RETURN(change.revision, Write(before, change.after, ctx));
  } else {
    CMO_ASSIGN_OR_RETURN(change.revision, Revision());
  }
  CMO_RETURN_IF_ERROR(in_txn(change));
  CMO_RETURN_IF_ERROR(txn->Commit());
  return change;
}

absl::StatusOr<std::vector<AuditEntry>> FlagStore::History(std::optional<std::string_view> op,
                                                           int limit) {
  // Changes and notices in the order they happened: a notice recorded at revision R came after
  // change R and before R+1.
  constexpr std::string_view kUnion =
      "SELECT revision, at_ms, actor, op, action, before, after, reason FROM ("
      "SELECT revision, at_ms, actor, op, action, before, after, reason, 0 AS notice, 0 AS seq "
      "FROM audit UNION ALL "
      "SELECT revision, at_ms, actor, op, action, NULL, after, reason, 1, id FROM notices) AS e";
  constexpr std::string_view kOrder = " ORDER BY revision DESC, notice DESC, seq DESC LIMIT ?2";
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_->Prepared(op.has_value() ? base::StrCat(kUnion, " WHERE op = ?1", kOrder)
                                                    : base::StrCat(kUnion, kOrder)));
  base::SqlStatement::Scope s(*stmt);
  if (op.has_value()) s->Bind(1, *op);
  s->Bind(2, int64_t{limit});
  std::vector<AuditEntry> out;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] {
    AuditEntry e;
    e.revision = s->ColumnInt(0);
    e.at = absl::FromUnixMillis(s->ColumnInt(1));
    e.actor = s->ColumnText(2);
    e.op = s->ColumnText(3);
    e.action = s->ColumnText(4);
    e.before = s->ColumnIsNull(5) ? nlohmann::json()
                                  : nlohmann::json::parse(s->ColumnText(5), nullptr, false);
    e.after = nlohmann::json::parse(s->ColumnText(6), nullptr, false);
    e.reason = s->ColumnText(7);
    out.push_back(std::move(e));
  }));
  return out;
}

}  // namespace cmo::flags
