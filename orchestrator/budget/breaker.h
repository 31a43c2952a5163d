// The per-op circuit breaker: when the op's budget breaches, its reads go back to the strong
// path (flag.breaker = open: effective eventual share 0; dual-write continues), and after a
// cooldown it probes the eventual path at the flag's probe share before closing again.
//
//   closed ──breach──► open ──cooldown over──► half_open ──probe healthy for probe_for──► closed
//     ▲                  ▲                          │
//     │                  └────────breach────────────┘  (each trip doubles the cooldown, capped)
//     └──────── `cmo breaker reset OP` (an operator) from open or half_open
//
// A budget whose plan says `on_breach: freeze` does not open the breaker: the op is frozen
// (its plan paused where it is, an operator alerted) and stays routed as it was.
//
// The machine is a pure function of (record, budget verdicts, now); BreakerStore persists the
// records in the control database so state and cooldowns survive a kill -9.
#ifndef CMO_ORCHESTRATOR_BUDGET_BREAKER_H_
#define CMO_ORCHESTRATOR_BUDGET_BREAKER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/sql.h"
#include "flags/flag.h"
#include "migrations/plan.h"
#include "orchestrator/budget/budget_eval.h"

namespace cmo::orchestrator {

struct BreakerOptions {
  absl::Duration cooldown = absl::Seconds(30);  // after the first trip
  absl::Duration max_cooldown = absl::Minutes(10);
  absl::Duration probe_for = absl::Seconds(30);  // healthy half-open time before closing
};

struct BreakerRecord {
  std::string op;
  flags::BreakerState state = flags::BreakerState::kClosed;
  bool frozen = false;                  // on_breach: freeze tripped
  absl::Time since = absl::UnixEpoch();  // when the current state began
  int trips = 0;                        // consecutive trips (reset when it closes by itself)
  absl::Duration cooldown = absl::ZeroDuration();  // of the current open period
  std::string reason;                   // what caused the last transition
  bool operator==(const BreakerRecord&) const = default;
};

enum class BreakerEvent { kNone, kTrip, kFreeze, kProbe, kRecover, kReTrip };
std::string_view BreakerEventName(BreakerEvent e);

struct BreakerStep {
  BreakerEvent event = BreakerEvent::kNone;
  BreakerRecord next;
};

// `current`: the budget over its windows; `probe`: over the time since the breaker went
// half-open (only read in half_open).
BreakerStep NextBreakerState(const BreakerRecord& record, migrations::BreachAction on_breach,
                             const BudgetStatus& current, const BudgetStatus& probe,
                             absl::Time now, const BreakerOptions& options);

// Breaker records in the control database (component "breakers"). Not thread-safe; borrows
// the connection (the flag store's, so a transition commits with its flag change).
class BreakerStore {
 public:
  static absl::StatusOr<std::unique_ptr<BreakerStore>> Open(base::SqlDb& db);
  absl::StatusOr<std::vector<BreakerRecord>> List();
  // The op's record; a closed one when it has none yet.
  absl::StatusOr<BreakerRecord> Get(std::string_view op);
  absl::Status Put(const BreakerRecord& r);
  // The latest budget evaluation of an op, for `cmo budget` (JSON of BudgetStatus + windows).
  absl::Status PutStatus(std::string_view op, absl::Time at, const std::string& json);
  absl::StatusOr<std::optional<std::pair<absl::Time, std::string>>> GetStatus(std::string_view op);

 private:
  explicit BreakerStore(base::SqlDb& db) : db_(db) {}
  base::SqlDb& db_;
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_BUDGET_BREAKER_H_
