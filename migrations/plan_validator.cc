// Meaning checks on a plan: names unique and defined, critical ops left alone, steps moving
// forward only, ramps growing. Structure and units were checked by the parser.
#include <algorithm>
#include <map>
#include <set>

#include "base/names.h"
#include "base/strings.h"
#include "base/units.h"
#include "flags/flag_json.h"
#include "flags/tier.h"
#include "migrations/gate.h"
#include "migrations/plan_parser.h"

namespace cmo::migrations {
namespace {

using base::StrCat;

// Reports the second and later declarations of a name.
template <typename T, typename NameOf>
void CheckUnique(const std::vector<T>& items, NameOf name_of, std::string_view what,
                 Diagnostics& d) {
  std::map<std::string, Position> seen;
  for (const T& item : items) {
    const std::string& name = name_of(item);
    if (name.empty()) continue;
    auto [it, inserted] = seen.emplace(name, item.pos);
    if (!inserted) {
      d.Add(item.pos, StrCat("duplicate ", what, " \"", name, "\" (first declared at line ",
                             it->second.line, ")"));
    }
  }
}

template <typename T, typename NameOf>
std::vector<std::string_view> Names(const std::vector<T>& items, NameOf name_of) {
  std::vector<std::string_view> out;
  for (const T& item : items) out.push_back(name_of(item));
  return out;
}

bool Contains(const std::vector<std::string_view>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

void CheckReference(std::string_view name, const std::vector<std::string_view>& defined,
                    std::string_view what, std::string_view list_key, Position pos,
                    Diagnostics& d) {
  if (Contains(defined, name)) return;
  d.Add(pos, StrCat("undefined ", what, " \"", name, "\"",
                    defined.empty() ? StrCat("; declare it under `", list_key, "`")
                                    : SuggestionSuffix(name, defined)));
}

void CheckOps(const Plan& plan, Diagnostics& d) {
  const auto budgets =
      Names(plan.budgets, [](const Budget& b) -> const std::string& { return b.name; });
  const auto tiers = Names(plan.tiers, [](const Tier& t) -> const std::string& { return t.name; });
  for (const PlanOp& o : plan.ops) {
    if (o.op.empty()) continue;
    if (absl::Status s = flags::ValidateOpName(o.op); !s.ok()) {
      d.Add(o.pos, std::string(base::ToStd(s.message())));
    }
    if (!o.domain.empty()) {
      if (absl::Status s = base::ValidateName("domain", o.domain, "likes"); !s.ok()) {
        d.Add(o.pos, std::string(base::ToStd(s.message())));
      }
    }
    if (o.op_class == flags::OpClass::kCritical && o.target.model != flags::Model::kStrong) {
      d.Add(o.pos, StrCat("op ", o.op, " is critical and must target strong, not ",
                          flags::TargetName(o.target),
                          "; critical ops (payments, privacy, access control) never leave the "
                          "primary — make it standard if it really may be weakened"));
    }
    if (!o.budget.empty()) CheckReference(o.budget, budgets, "budget", "budgets", o.pos, d);
    for (const std::string& t : o.tiers) CheckReference(t, tiers, "tier", "tiers", o.pos, d);
    if (!o.amplify_when.empty() && o.kind != OpKind::kWrite) {
      d.Add(o.amplify_pos, StrCat("op ", o.op,
                                  ": amplify guards writes (the item a viral write "
                                  "makes hot); put it on the write op of domain ",
                                  o.domain));
    }
  }
}

void CheckBudgets(const Plan& plan, Diagnostics& d) {
  std::map<flags::OpClass, std::string> defaults;
  for (const Budget& b : plan.budgets) {
    if (b.short_window >= b.long_window) {
      d.Add(
          b.pos,
          StrCat("budget \"", b.name, "\": short_window (", base::FormatDuration(b.short_window),
                 ") must be shorter than long_window (", base::FormatDuration(b.long_window), ")"));
    }
    if (b.default_for_class.has_value()) {
      auto [it, inserted] = defaults.emplace(*b.default_for_class, b.name);
      if (!inserted) {
        d.Add(b.pos, StrCat("budgets \"", it->second, "\" and \"", b.name,
                            "\" are both the default for class ",
                            flags::OpClassName(*b.default_for_class), "; keep one"));
      }
    }
  }
}

void CheckTiers(const Plan& plan, Diagnostics& d) {
  for (const Tier& t : plan.tiers) {
    if (t.join_at != flags::Stage::kRamp && t.join_at != flags::Stage::kEventual) {
      d.Add(t.pos, StrCat("tier \"", t.name, "\": join_at must be ramp or eventual, not ",
                          flags::StageName(t.join_at)));
      continue;
    }
    // The parser reported bad rules where they are written; the rest are the flag store's
    // own bounds, checked once the rules are right.
    const bool rules_parse = std::all_of(t.when.begin(), t.when.end(), [](const std::string& w) {
      return flags::ParseTierRule(w).ok();
    });
    if (absl::Status s = flags::ValidateTier(ToFlagsTier(plan, t));
        !s.ok() && rules_parse && !t.name.empty()) {
      d.Add(t.pos, std::string(s.message()));
    }
  }
  if (plan.tiers.size() > static_cast<size_t>(flags::kMaxSnapshotTiers)) {
    d.Add(plan.tiers.back().pos, StrCat("more than ", flags::kMaxSnapshotTiers, " tiers"));
  }
}

void CheckSteps(const Phase& p, Diagnostics& d) {
  const Step* prev = nullptr;
  for (const Step& s : p.steps) {
    if (prev != nullptr) {
      if (s.stage < prev->stage) {
        d.Add(s.pos, StrCat("step ", flags::StageName(s.stage), " comes after ",
                            flags::StageName(prev->stage), " in phase \"", p.name,
                            "\"; steps only move forward — a breach rolls back by the phase's ",
                            "rollback policy"));
      } else if (s.stage == prev->stage && s.stage != flags::Stage::kRamp) {
        d.Add(s.pos, StrCat("step ", flags::StageName(s.stage), " repeats in phase \"", p.name,
                            "\"; merge the two steps"));
      } else if (s.stage == flags::Stage::kRamp && prev->stage == flags::Stage::kRamp &&
                 s.ramp_bp <= prev->ramp_bp) {
        d.Add(s.pos,
              StrCat("ramp ",
                     s.ramp_bp < prev->ramp_bp
                         ? StrCat("goes down from ", base::FormatBp(prev->ramp_bp), " to ",
                                  base::FormatBp(s.ramp_bp))
                         : StrCat("stays at ", base::FormatBp(s.ramp_bp)),
                     " inside phase \"", p.name, "\"; ramps only grow — use a rollback instead"));
      }
    }
    if (s.stage == flags::Stage::kRamp && s.ramp_bp == 0 && prev != nullptr) {
      d.Add(s.pos, StrCat("ramp to 0% in phase \"", p.name, "\" moves nobody; start above 0%"));
    }
    prev = &s;
  }
  if (prev != nullptr && (!prev->gates.empty() || prev->hold > absl::ZeroDuration())) {
    d.Add(prev->pos, StrCat("the last step of phase \"", p.name, "\" has gates or a hold, ",
                            "which never apply: gates are checked before moving on to the next ",
                            "step — put them on the step before"));
  }
}

void CheckPhases(const Plan& plan, Diagnostics& d) {
  const auto ops = Names(plan.ops, [](const PlanOp& o) -> const std::string& { return o.op; });
  const auto regions =
      Names(plan.regions, [](const Region& r) -> const std::string& { return r.name; });
  std::map<std::string, std::string> phase_of;
  for (const Phase& p : plan.phases) {
    for (const std::string& op : p.ops) {
      CheckReference(op, ops, "op", "operations", p.pos, d);
      const PlanOp* o = plan.FindOp(op);
      if (o != nullptr && o->op_class == flags::OpClass::kCritical) {
        d.Add(p.pos, StrCat("op ", op, " is critical and stays strong; remove it from phase \"",
                            p.name, "\""));
      }
      auto [it, inserted] = phase_of.emplace(op, p.name);
      if (!inserted) {
        d.Add(p.pos, StrCat("op ", op, " is in phases \"", it->second, "\" and \"", p.name,
                            "\"; an op migrates in one phase"));
      }
    }
    for (const std::string& r : p.regions)
      CheckReference(r, regions, "region", "regions", p.pos, d);
    CheckSteps(p, d);
    if (p.rollback.to != flags::Stage::kStrong && p.rollback.to != flags::Stage::kDualWrite &&
        p.rollback.to != flags::Stage::kShadow) {
      d.Add(p.pos, StrCat("phase \"", p.name, "\": rollback.to must be strong, dual_write or ",
                          "shadow (where every read is served by the primary), not ",
                          flags::StageName(p.rollback.to)));
    }
  }
}

}  // namespace

void ValidatePlan(const Plan& plan, Diagnostics& d) {
  auto region_name = [](const Region& r) -> const std::string& { return r.name; };
  CheckUnique(plan.regions, region_name, "region", d);
  CheckUnique(
      plan.budgets, [](const Budget& b) -> const std::string& { return b.name; }, "budget", d);
  CheckUnique(
      plan.tiers, [](const Tier& t) -> const std::string& { return t.name; }, "tier", d);
  CheckUnique(
      plan.ops, [](const PlanOp& o) -> const std::string& { return o.op; }, "op", d);
  CheckUnique(
      plan.phases, [](const Phase& p) -> const std::string& { return p.name; }, "phase", d);
  CheckUnique(
      plan.domains, [](const Domain& x) -> const std::string& { return x.name; }, "domain", d);
  CheckOps(plan, d);
  CheckBudgets(plan, d);
  CheckTiers(plan, d);
  CheckPhases(plan, d);
}

}  // namespace cmo::migrations
