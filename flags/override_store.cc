#include "flags/override_store.h"

#include <algorithm>
#include <optional>

#include "base/sql.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace cmo::flags {
namespace {

constexpr size_t kMaxSubjectBytes = 256;
constexpr size_t kMaxReasonBytes = 1000;

constexpr std::string_view kSelect =
    "SELECT id, subject, op, domain, expires_ms, created_ms, actor, reason FROM overrides";

Override ReadOverride(base::SqlStatement::Scope& s) {
  Override o;
  o.id = s->ColumnInt(0);
  o.subject = s->ColumnText(1);
  o.op = s->ColumnText(2);
  o.domain = s->ColumnText(3);
  o.expires = absl::FromUnixMillis(s->ColumnInt(4));
  o.created = absl::FromUnixMillis(s->ColumnInt(5));
  o.actor = s->ColumnText(6);
  o.reason = s->ColumnText(7);
  return o;
}

// Where the audit log files the change: the op when there is one.
std::string AuditOp(const Override& o) { return o.op.empty() ? "overrides" : o.op; }

absl::Status CheckScope(FlagStore& flags, const Override& o) {
  if (!o.op.empty() && !o.domain.empty()) {
    return absl::InvalidArgumentError(
        "give an op or a domain, not both: an op override covers that op, a domain override "
        "every op of the domain");
  }
  if (!o.op.empty()) return flags.Get(o.op).status();
  if (o.domain.empty()) return absl::OkStatus();
  CMO_ASSIGN_OR_RETURN(std::vector<Flag> all, flags.List());
  std::vector<std::string> domains;
  for (const Flag& f : all) {
    if (f.domain == o.domain) return absl::OkStatus();
    if (std::find(domains.begin(), domains.end(), f.domain) == domains.end()) {
      domains.push_back(f.domain);
    }
  }
  return absl::NotFoundError(
      base::StrCat("no registered op is in domain \"", o.domain, "\"; ",
                   domains.empty() ? "no ops are registered yet"
                                   : base::StrCat("domains: ", base::StrJoin(domains, ", "))));
}

absl::Status Validate(FlagStore& flags, const Override& o, absl::Time now) {
  if (o.subject.empty() || o.subject.size() > kMaxSubjectBytes) {
    return absl::InvalidArgumentError(base::StrCat("subject must be 1 to ", kMaxSubjectBytes,
                                                   " bytes (the user id the app "
                                                   "passes to the client library)"));
  }
  if (o.reason.empty() || o.reason.size() > kMaxReasonBytes) {
    return absl::InvalidArgumentError(base::StrCat("reason must be 1 to ", kMaxReasonBytes,
                                                   " bytes: say why (a ticket number, say)"));
  }
  if (o.expires <= now || o.expires - now > kMaxOverrideTtl) {
    return absl::InvalidArgumentError(base::StrCat("an override lasts more than 0 and at most ",
                                                   absl::FormatDuration(kMaxOverrideTtl),
                                                   " (--ttl 2h, say); renew it to keep it"));
  }
  return CheckScope(flags, o);
}

// In the audited transaction: renews the active override of the same subject and scope, or
// inserts a new one (within the bound); says what changed.
absl::Status RenewOrInsert(base::SqlDb& db, Override& o, absl::Time now, nlohmann::json& before,
                           nlohmann::json& after) {
  // The active override of the same subject and scope, if any: renewed, not doubled.
  std::optional<Override> same;
  {
    CMO_ASSIGN_OR_RETURN(base::SqlStatement * find,
                         db.Prepared(base::StrCat(kSelect,
                                                  " WHERE subject = ?1 AND op = ?2 AND domain = ?3 "
                                                  "AND expires_ms > ?4")));
    base::SqlStatement::Scope s(*find);
    s->Bind(1, o.subject).Bind(2, o.op).Bind(3, o.domain).Bind(4, absl::ToUnixMillis(now));
    CMO_ASSIGN_OR_RETURN(bool row, s->Step());
    if (row) same = ReadOverride(s);
  }
  if (same.has_value()) {
    before = OverrideToJson(*same);
    o.id = same->id;
    o.created = same->created;
    CMO_ASSIGN_OR_RETURN(
        base::SqlStatement * update,
        db.Prepared("UPDATE overrides SET expires_ms = ?1, actor = ?2, reason = ?3 "
                    "WHERE id = ?4"));
    base::SqlStatement::Scope s(*update);
    s->Bind(1, absl::ToUnixMillis(o.expires)).Bind(2, o.actor).Bind(3, o.reason).Bind(4, o.id);
    CMO_RETURN_IF_ERROR(s->Run());
    after = OverrideToJson(o);
    return absl::OkStatus();
  }
  int64_t active = 0;
  {
    CMO_ASSIGN_OR_RETURN(base::SqlStatement * count,
                         db.Prepared("SELECT count(*) FROM overrides WHERE expires_ms > ?1"));
    base::SqlStatement::Scope s(*count);
    s->Bind(1, absl::ToUnixMillis(now));
    CMO_ASSIGN_OR_RETURN(bool row, s->Step());
    active = row ? s->ColumnInt(0) : 0;
  }
  if (active >= kMaxOverrides) {
    return absl::FailedPreconditionError(
        base::StrCat(active,
                     " overrides are active, the most cmo keeps (each goes to every "
                     "client in every flag snapshot): remove those no longer needed "
                     "(`cmo override "
                     "list`, `cmo override remove ID`) or wait for some to expire"));
  }
  // Expired rows are no use to anyone (the audit log keeps their story).
  {
    CMO_ASSIGN_OR_RETURN(base::SqlStatement * prune,
                         db.Prepared("DELETE FROM overrides WHERE expires_ms <= ?1"));
    base::SqlStatement::Scope s(*prune);
    s->Bind(1, absl::ToUnixMillis(now));
    CMO_RETURN_IF_ERROR(s->Run());
  }
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * insert,
      db.Prepared("INSERT INTO overrides (subject, op, domain, expires_ms, created_ms, "
                  "actor, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id"));
  base::SqlStatement::Scope s(*insert);
  s->Bind(1, o.subject)
      .Bind(2, o.op)
      .Bind(3, o.domain)
      .Bind(4, absl::ToUnixMillis(o.expires))
      .Bind(5, absl::ToUnixMillis(o.created))
      .Bind(6, o.actor)
      .Bind(7, o.reason);
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::InternalError("insert into overrides returned no id");
  o.id = s->ColumnInt(0);
  before = nullptr;
  after = OverrideToJson(o);
  return absl::OkStatus();
}

// Deletes override `id` if it is still active (kNotFound when another call got there first).
absl::Status DeleteActive(base::SqlDb& db, int64_t id, absl::Time now) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * del,
      db.Prepared("DELETE FROM overrides WHERE id = ?1 AND expires_ms > ?2 RETURNING id"));
  base::SqlStatement::Scope s(*del);
  s->Bind(1, id).Bind(2, absl::ToUnixMillis(now));
  CMO_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::NotFoundError(base::StrCat("override ", id, " is gone already"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Override>> ActiveOverrides(base::SqlDb& db, absl::Time now) {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db.Prepared(base::StrCat(kSelect, " WHERE expires_ms > ?1 ORDER BY id")));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, absl::ToUnixMillis(now));
  std::vector<Override> out;
  for (;;) {
    CMO_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadOverride(s));
  }
  return out;
}

absl::StatusOr<Override> AddOverride(FlagStore& flags, Override o, const ChangeContext& ctx) {
  const absl::Time now = flags.clock().Now();
  o.actor = ctx.actor;
  o.reason = ctx.reason;
  o.created = now;
  CMO_RETURN_IF_ERROR(Validate(flags, o, now));
  base::SqlDb& db = flags.db();
  auto write = [&](nlohmann::json& before, nlohmann::json& after) {
    return RenewOrInsert(db, o, now, before, after);
  };
  CMO_RETURN_IF_ERROR(flags.RecordEvent(AuditOp(o), ctx, write).status());
  return o;
}

absl::StatusOr<Override> RemoveOverride(FlagStore& flags, int64_t id, const ChangeContext& ctx) {
  const absl::Time now = flags.clock().Now();
  base::SqlDb& db = flags.db();
  Override removed;
  // The audit entry is filed under the op, which is only known once the row is read: read it
  // first, then remove it in the audited transaction (which checks it is still there).
  {
    CMO_ASSIGN_OR_RETURN(base::SqlStatement * find,
                         db.Prepared(base::StrCat(kSelect, " WHERE id = ?1 AND expires_ms > ?2")));
    base::SqlStatement::Scope s(*find);
    s->Bind(1, id).Bind(2, absl::ToUnixMillis(now));
    CMO_ASSIGN_OR_RETURN(bool row, s->Step());
    if (row) removed = ReadOverride(s);
  }
  if (removed.id == 0) {
    return absl::NotFoundError(base::StrCat("no active override has id ", id,
                                            " (expired ones end by themselves); `cmo override "
                                            "list` shows the active ones"));
  }
  auto remove = [&](nlohmann::json& before, nlohmann::json& after) -> absl::Status {
    CMO_RETURN_IF_ERROR(DeleteActive(db, id, now));
    before = OverrideToJson(removed);
    after = {{"removed", true}, {"id", id}};
    return absl::OkStatus();
  };
  CMO_RETURN_IF_ERROR(flags.RecordEvent(AuditOp(removed), ctx, remove).status());
  return removed;
}

}  // namespace cmo::flags
