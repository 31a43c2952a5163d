#include "orchestrator/budget/breaker.h"

#include <algorithm>

#include "base/status_macros.h"

namespace cmo::orchestrator {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE breakers (
  op TEXT PRIMARY KEY, state TEXT NOT NULL, frozen INTEGER NOT NULL, since_ms INTEGER NOT NULL,
  trips INTEGER NOT NULL, cooldown_ms INTEGER NOT NULL, reason TEXT NOT NULL) STRICT;
CREATE TABLE budget_status (
  op TEXT PRIMARY KEY, at_ms INTEGER NOT NULL, json TEXT NOT NULL) STRICT;
)sql";

constexpr std::string_view kPgSchema = R"sql(
CREATE TABLE breakers (
  op TEXT PRIMARY KEY, state TEXT NOT NULL, frozen BIGINT NOT NULL, since_ms BIGINT NOT NULL,
  trips BIGINT NOT NULL, cooldown_ms BIGINT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE budget_status (op TEXT PRIMARY KEY, at_ms BIGINT NOT NULL, json TEXT NOT NULL);
)sql";

}  // namespace

std::string_view BreakerEventName(BreakerEvent e) {
  switch (e) {
    case BreakerEvent::kNone:
      return "none";
    case BreakerEvent::kTrip:
      return "breaker_open";
    case BreakerEvent::kFreeze:
      return "freeze";
    case BreakerEvent::kProbe:
      return "breaker_half_open";
    case BreakerEvent::kRecover:
      return "breaker_closed";
    case BreakerEvent::kReTrip:
      return "breaker_reopen";
  }
  return "unknown";
}

BreakerStep NextBreakerState(const BreakerRecord& r, migrations::BreachAction on_breach,
                             const BudgetStatus& current, const BudgetStatus& probe, absl::Time now,
                             const BreakerOptions& o) {
  BreakerStep step{BreakerEvent::kNone, r};
  BreakerRecord& n = step.next;
  auto open = [&](BreakerEvent event, const std::string& reason) {
    n.trips = r.trips + 1;
    n.cooldown = std::min(o.max_cooldown, o.cooldown * (1 << std::min(n.trips - 1, 20)));
    n.state = flags::BreakerState::kOpen;
    n.since = now;
    n.reason = reason;
    step.event = event;
  };
  switch (r.state) {
    case flags::BreakerState::kClosed:
      if (!current.breach || r.frozen) break;
      if (on_breach == migrations::BreachAction::kFreeze) {
        n.frozen = true;
        n.since = now;
        n.reason = current.reason;
        step.event = BreakerEvent::kFreeze;
        break;
      }
      open(BreakerEvent::kTrip, current.reason);
      break;
    case flags::BreakerState::kOpen:
      if (now - r.since < r.cooldown) break;
      n.state = flags::BreakerState::kHalfOpen;
      n.since = now;
      n.reason = "cooldown of " + absl::FormatDuration(r.cooldown) + " over: probing";
      step.event = BreakerEvent::kProbe;
      break;
    case flags::BreakerState::kHalfOpen:
      if (probe.breach) {
        open(BreakerEvent::kReTrip, probe.reason);
        break;
      }
      if (now - r.since < o.probe_for) break;
      // Closing needs evidence, not silence: the probe must have compared enough samples.
      // Without them the op stays half-open (only the probe share on the eventual path).
      if (!std::any_of(probe.slis.begin(), probe.slis.end(), [](const SliReport& s) {
            return s.name == "divergence_ratio" && s.enough_data;
          })) {
        break;
      }
      n.state = flags::BreakerState::kClosed;
      n.since = now;
      n.trips = 0;
      n.cooldown = absl::ZeroDuration();
      n.reason = "probe healthy for " + absl::FormatDuration(o.probe_for);
      step.event = BreakerEvent::kRecover;
      break;
  }
  return step;
}

absl::StatusOr<std::unique_ptr<BreakerStore>> BreakerStore::Open(base::SqlDb& db) {
  CMO_RETURN_IF_ERROR(base::MigrateSchema(db, "breakers", {kSchema}, {kPgSchema}));
  return std::unique_ptr<BreakerStore>(new BreakerStore(db));
}

absl::StatusOr<std::vector<BreakerRecord>> BreakerStore::List() {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_.Prepared("SELECT op, state, frozen, since_ms, trips, cooldown_ms, "
                                    "reason FROM breakers ORDER BY op"));
  base::SqlStatement::Scope s(*stmt);
  std::vector<BreakerRecord> out;
  absl::Status bad;
  CMO_RETURN_IF_ERROR(s->ForEachRow([&] {
    BreakerRecord r;
    r.op = s->ColumnText(0);
    absl::StatusOr<flags::BreakerState> state = flags::ParseBreakerState(s->ColumnText(1));
    if (!state.ok()) bad = state.status();
    r.state = state.value_or(flags::BreakerState::kClosed);
    r.frozen = s->ColumnInt(2) != 0;
    r.since = absl::FromUnixMillis(s->ColumnInt(3));
    r.trips = static_cast<int>(s->ColumnInt(4));
    r.cooldown = absl::Milliseconds(s->ColumnInt(5));
    r.reason = s->ColumnText(6);
    out.push_back(std::move(r));
  }));
  CMO_RETURN_IF_ERROR(bad);
  return out;
}

absl::StatusOr<BreakerRecord> BreakerStore::Get(std::string_view op) {
  CMO_ASSIGN_OR_RETURN(std::vector<BreakerRecord> all, List());
  for (BreakerRecord& r : all) {
    if (r.op == op) return std::move(r);
  }
  BreakerRecord r;
  r.op = std::string(op);
  return r;
}

absl::Status BreakerStore::Put(const BreakerRecord& r) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("INSERT INTO breakers (op, state, frozen, since_ms, trips, cooldown_ms, reason) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (op) DO UPDATE SET state = ?2, "
                   "frozen = ?3, since_ms = ?4, trips = ?5, cooldown_ms = ?6, reason = ?7"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, r.op)
      .Bind(2, std::string(flags::BreakerStateName(r.state)))
      .Bind(3, int64_t{r.frozen})
      .Bind(4, absl::ToUnixMillis(r.since))
      .Bind(5, int64_t{r.trips})
      .Bind(6, absl::ToInt64Milliseconds(r.cooldown))
      .Bind(7, r.reason);
  return s->Run();
}

absl::Status BreakerStore::PutStatus(std::string_view op, absl::Time at, const std::string& json) {
  CMO_ASSIGN_OR_RETURN(
      base::SqlStatement * stmt,
      db_.Prepared("INSERT INTO budget_status (op, at_ms, json) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (op) DO UPDATE SET at_ms = ?2, json = ?3"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, op).Bind(2, absl::ToUnixMillis(at)).Bind(3, json);
  return s->Run();
}

absl::StatusOr<std::optional<std::pair<absl::Time, std::string>>> BreakerStore::GetStatus(
    std::string_view op) {
  CMO_ASSIGN_OR_RETURN(base::SqlStatement * stmt,
                       db_.Prepared("SELECT at_ms, json FROM budget_status WHERE op = ?1"));
  base::SqlStatement::Scope s(*stmt);
  s->Bind(1, op);
  std::optional<std::pair<absl::Time, std::string>> out;
  CMO_RETURN_IF_ERROR(
      s->ForEachRow([&] { out.emplace(absl::FromUnixMillis(s->ColumnInt(0)), s->ColumnText(1)); }));
  return out;
}

}  // namespace cmo::orchestrator
