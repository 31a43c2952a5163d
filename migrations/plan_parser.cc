#include "migrations/plan_parser.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "base/strings.h"
#include "base/units.h"
#include "flags/tier.h"
#include "migrations/gate.h"

namespace cmo::migrations {
namespace {

using base::StrCat;

Position Pos(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? Position{0, 0} : Position{m.line + 1, m.column + 1};
}

std::string_view TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    default:
      return "empty";
  }
}

constexpr std::string_view kStepKinds[] = {"dual_write", "shadow", "ramp", "eventual"};

// Structure, types and units. Reports into `d_` and carries on with what it could read.
class Parser {
 public:
  explicit Parser(Diagnostics& d) : d_(d) {}

  Plan Root(const YAML::Node& root) {
    Plan plan;
    if (!CheckMap(root, "the plan",
                  {"version", "name", "description", "regions", "budgets", "tiers", "domains",
                   "operations", "phases", "reconciliation"})) {
      return plan;
    }
    if (auto v = Scalar(root, "version")) {
      if (*v != "1") {
        d_.Add(Pos(root["version"]),
               StrCat("version: this cmo reads plan format version 1, not \"", *v, "\""));
      }
    }
    if (auto v = Scalar(root, "name", /*required=*/true)) plan.name = *v;
    if (auto v = Scalar(root, "description")) plan.description = *v;
    ForEach(root, "regions", [&](const YAML::Node& n) { plan.regions.push_back(ReadRegion(n)); });
    ForEach(root, "budgets", [&](const YAML::Node& n) { plan.budgets.push_back(ReadBudget(n)); });
    ForEach(root, "tiers", [&](const YAML::Node& n) { plan.tiers.push_back(ReadTier(n)); });
    ForEach(root, "domains", [&](const YAML::Node& n) { plan.domains.push_back(ReadDomain(n)); });
    ForEach(
        root, "operations", [&](const YAML::Node& n) { plan.ops.push_back(ReadOp(n)); },
        /*required=*/true);
    ForEach(
        root, "phases", [&](const YAML::Node& n) { plan.phases.push_back(ReadPhase(n)); },
        /*required=*/true);
    if (const YAML::Node r = root["reconciliation"]; r.IsDefined() && !r.IsNull()) {
      plan.reconciliation = ReadReconciliation(r);
    }
    return plan;
  }

  // reconciliation: {every: 10m, max_rows_per_s: 50000, policy: primary_wins,
  //                  policies: {likes: merge}}
  Reconciliation ReadReconciliation(const YAML::Node& n) {
    Reconciliation r;
    r.pos = Pos(n);
    if (!CheckMap(n, "reconciliation", {"every", "max_rows_per_s", "policy", "policies"})) return r;
    if (auto v = Typed<absl::Duration>(n, "every", base::ParseDuration)) r.every = *v;
    if (auto v = Scalar(n, "max_rows_per_s")) {
      int64_t x = 0;
      if (!absl::SimpleAtoi(*v, &x) || x < 0) {
        d_.Add(Pos(n["max_rows_per_s"]),
               StrCat("max_rows_per_s: \"", *v, "\" is not a non-negative whole number"));
      } else {
        r.max_rows_per_s = x;
      }
    }
    auto policy = [&](const YAML::Node& at, const std::string& text) {
      if (text != "primary_wins" && text != "last_writer_wins" && text != "merge") {
        d_.Add(Pos(at),
               StrCat("policy \"", text, "\" is not primary_wins, last_writer_wins or merge"));
      }
      return text;
    };
    if (auto v = Scalar(n, "policy")) r.default_policy = policy(n["policy"], *v);
    if (const YAML::Node ps = n["policies"]; ps.IsDefined() && !ps.IsNull()) {
      if (!ps.IsMap()) {
        d_.Add(Pos(ps),
               "reconciliation.policies must map domains to policies, e.g. {likes: merge}");
        return r;
      }
      for (auto it = ps.begin(); it != ps.end(); ++it) {
        const YAML::Node key = it->first;  // copies: the iterator yields a temporary proxy
        const YAML::Node value = it->second;
        if (!value.IsScalar()) {
          d_.Add(Pos(value), "a domain's policy must be one word, e.g. `likes: merge`");
          continue;
        }
        r.policies[key.as<std::string>()] = policy(value, value.as<std::string>());
      }
    }
    return r;
  }

 private:
  // Checks that `n` is a mapping with only known, unrepeated keys.
  bool CheckMap(const YAML::Node& n, std::string_view what,
                const std::vector<std::string_view>& known) {
    if (!n.IsMap()) {
      d_.Add(Pos(n), StrCat(what, " must be a mapping of `key: value` lines, not ", TypeName(n)));
      return false;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node key = it->first;  // a copy: the iterator yields a temporary proxy
      const std::string name = key.IsScalar() ? key.Scalar() : "?";
      if (!seen.insert(name).second) {
        d_.Add(Pos(key), StrCat("duplicate key `", name, "` in ", what));
      } else if (std::find(known.begin(), known.end(), name) == known.end()) {
        d_.Add(Pos(key),
               StrCat("unknown key `", name, "` in ", what, SuggestionSuffix(name, known)));
      }
    }
    return true;
  }

  // The scalar at map[key]; reports a missing required key at the map, a non-scalar at the value.
  std::optional<std::string> Scalar(const YAML::Node& map, std::string_view key,
                                    bool required = false) {
    const YAML::Node n = map[std::string(key)];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) d_.Add(Pos(map), StrCat("missing required key `", key, "`"));
      return std::nullopt;
    }
    if (!n.IsScalar()) {
      d_.Add(Pos(n), StrCat(key, ": expected a single value, not ", TypeName(n)));
      return std::nullopt;
    }
    return n.Scalar();
  }

  // Parses map[key] with `parse` (a base:: unit parser), prefixing its message with the key.
  template <typename T, typename F>
  std::optional<T> Typed(const YAML::Node& map, std::string_view key, F parse,
                         bool required = false) {
    std::optional<std::string> text = Scalar(map, key, required);
    if (!text.has_value()) return std::nullopt;
    absl::StatusOr<T> v = parse(*text);
    if (!v.ok()) {
      d_.Add(Pos(map[std::string(key)]), StrCat(key, ": ", base::ToStd(v.status().message())));
      return std::nullopt;
    }
    return *v;
  }

  std::optional<int64_t> Count(const YAML::Node& map, std::string_view key) {
    return Typed<int64_t>(map, key, [](const std::string& s) -> absl::StatusOr<int64_t> {
      if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos) {
        return absl::InvalidArgumentError(
            StrCat("\"", s, "\" is not a count; write a whole number, e.g. 0 or 1000"));
      }
      return std::stoll(s);
    });
  }

  std::vector<std::string> StringList(const YAML::Node& map, std::string_view key,
                                      bool required = false) {
    std::vector<std::string> out;
    const YAML::Node n = map[std::string(key)];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) d_.Add(Pos(map), StrCat("missing required key `", key, "`"));
      return out;
    }
    if (!n.IsSequence()) {
      d_.Add(Pos(n), StrCat(key, ": expected a list, e.g. ", key, ": [a, b], not ", TypeName(n)));
      return out;
    }
    if (required && n.size() == 0) d_.Add(Pos(n), StrCat(key, ": the list is empty"));
    for (const YAML::Node& item : n) {
      if (item.IsScalar()) {
        out.push_back(item.Scalar());
      } else {
        d_.Add(Pos(item),
               StrCat(key, ": every entry must be a single value, not ", TypeName(item)));
      }
    }
    return out;
  }

  // Calls `each` for every entry of the list map[key]. A section that is not a list makes
  // cross-reference checks meaningless, so it marks the plan unreadable for them.
  template <typename F>
  void ForEach(const YAML::Node& map, std::string_view key, F each, bool required = false) {
    const YAML::Node n = map[std::string(key)];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) d_.Add(Pos(map), StrCat("missing required key `", key, "`"));
      return;
    }
    if (!n.IsSequence()) {
      d_.Add(Pos(n),
             StrCat(key, " must be a list (entries starting with `- `), not ", TypeName(n)));
      sections_readable_ = false;
      return;
    }
    if (required && n.size() == 0) d_.Add(Pos(n), StrCat(key, ": the list is empty"));
    for (const YAML::Node& item : n) each(item);
  }

  std::optional<flags::Target> ReadTarget(const YAML::Node& map, std::string_view key) {
    const YAML::Node n = map[std::string(key)];
    if (n.IsMap()) {  // {model: bounded_staleness, max_staleness: 2s}
      if (!CheckMap(n, key, {"model", "max_staleness"})) return std::nullopt;
      auto model = Scalar(n, "model", /*required=*/true);
      if (!model.has_value()) return std::nullopt;
      auto max = Scalar(n, "max_staleness");
      const std::string text = max.has_value() ? StrCat(*model, "(", *max, ")") : *model;
      auto t = flags::ParseTarget(text);
      if (!t.ok()) d_.Add(Pos(n), StrCat(key, ": ", base::ToStd(t.status().message())));
      return t.ok() ? std::optional<flags::Target>(*t) : std::nullopt;
    }
    return Typed<flags::Target>(map, key, flags::ParseTarget, /*required=*/true);
  }

  Region ReadRegion(const YAML::Node& n) {
    Region r;
    r.pos = Pos(n);
    if (n.IsScalar()) {
      r.name = n.Scalar();
    } else if (CheckMap(n, "a region", {"name", "description"})) {
      r.name = Scalar(n, "name", true).value_or("");
    }
    return r;
  }

  // {name: comments, source: {table: public.comments, key: [id], subject: author_id}}
  Domain ReadDomain(const YAML::Node& n) {
    Domain d;
    d.pos = Pos(n);
    if (!CheckMap(n, "a domain", {"name", "source"})) return d;
    d.name = Scalar(n, "name", true).value_or("");
    const YAML::Node src = n["source"];
    if (!src.IsDefined() || src.IsNull()) return d;
    d.has_source = true;
    if (!CheckMap(src, "source", {"table", "key", "subject"})) return d;
    d.source.table = Scalar(src, "table", true).value_or("");
    if (!d.source.table.empty() &&
        (d.source.table.find('.') == std::string::npos || d.source.table.front() == '.' ||
         d.source.table.back() == '.')) {
      d_.Add(Pos(src["table"]), StrCat("source.table: name the table with its schema, e.g. "
                                       "public.",
                                       d.source.table));
    }
    d.source.key = StringList(src, "key");
    if (d.source.key.empty()) {
      d_.Add(Pos(src), "source.key: list the table's primary key columns, e.g. key: [id]");
    }
    d.source.subject = Scalar(src, "subject").value_or("");
    return d;
  }

  Budget ReadBudget(const YAML::Node& n) {
    Budget b;
    b.pos = Pos(n);
    if (!CheckMap(n, "a budget",
                  {"name", "default_for_class", "max_stale_read_ratio", "max_divergence_ratio",
                   "max_replication_lag_p99", "max_session_violations", "max_fallback_ratio",
                   "short_window", "long_window", "min_samples", "on_breach"})) {
      return b;
    }
    b.name = Scalar(n, "name", true).value_or("");
    b.default_for_class = Typed<flags::OpClass>(n, "default_for_class", flags::ParseOpClass);
    auto ppm = [&](std::string_view key, int64_t& out) {
      if (auto v = Typed<int64_t>(n, key, base::ParsePercentPpm)) out = *v;
    };
    auto duration = [&](std::string_view key, absl::Duration& out) {
      if (auto v = Typed<absl::Duration>(n, key, base::ParseDuration)) out = *v;
    };
    ppm("max_stale_read_ratio", b.max_stale_read_ratio_ppm);
    ppm("max_divergence_ratio", b.max_divergence_ratio_ppm);
    ppm("max_fallback_ratio", b.max_fallback_ratio_ppm);
    duration("max_replication_lag_p99", b.max_replication_lag_p99);
    duration("short_window", b.short_window);
    duration("long_window", b.long_window);
    if (auto v = Count(n, "max_session_violations")) b.max_session_violations = *v;
    if (auto v = Count(n, "min_samples")) b.min_samples = *v;
    if (auto v = Typed<BreachAction>(n, "on_breach", ParseBreachAction)) b.on_breach = *v;
    return b;
  }

  Tier ReadTier(const YAML::Node& n) {
    Tier t;
    t.pos = Pos(n);
    if (!CheckMap(n, "a tier",
                  {"name", "subjects", "when", "top_k", "target", "join_at", "priority"})) {
      return t;
    }
    t.name = Scalar(n, "name", true).value_or("");
    t.subjects = StringList(n, "subjects");
    t.when = StringList(n, "when");
    if (const YAML::Node w = n["when"]; w.IsDefined() && w.IsSequence()) {
      for (const YAML::Node& rule : w) {
        if (!rule.IsScalar()) continue;  // StringList said so
        if (auto r = flags::ParseTierRule(rule.Scalar()); !r.ok()) {
          d_.Add(Pos(rule), StrCat("tier \"", t.name, "\": ", r.status().message()));
        }
      }
    }
    if (const YAML::Node k = n["top_k"]; k.IsDefined() && !k.IsNull()) ReadTopK(k, t);
    if (auto v = ReadTarget(n, "target")) t.target = *v;
    if (auto v = Typed<flags::Stage>(n, "join_at", flags::ParseStage)) t.join_at = *v;
    if (auto text = Scalar(n, "priority")) {
      if (*text == "true") {
        t.priority = true;
      } else if (*text != "false") {
        d_.Add(Pos(n["priority"]),
               StrCat("tier \"", t.name, "\": priority: \"", *text, "\" is not true or false"));
      }
    }
    return t;
  }

  // top_k: {k: 100, window: 10m}: the K heaviest writers of the last `window`.
  void ReadTopK(const YAML::Node& n, Tier& t) {
    if (!CheckMap(n, "top_k", {"k", "window"})) return;
    if (auto v = Scalar(n, "k", true)) {
      int64_t k = 0;
      if (!absl::SimpleAtoi(*v, &k) || k < 1 || k > flags::kMaxTopK) {
        d_.Add(Pos(n["k"]),
               StrCat("top_k.k: \"", *v, "\" is not a whole number from 1 to ", flags::kMaxTopK));
        t.top_k = 1;  // reported; go on as if it were right, so nothing else is said about it
      } else {
        t.top_k = static_cast<int32_t>(k);
      }
    }
    if (auto v = Typed<absl::Duration>(n, "window", base::ParseDuration)) {
      if (*v < flags::kMinTopKWindow || *v > flags::kMaxTopKWindow) {
        d_.Add(Pos(n["window"]),
               StrCat("top_k.window must be ", absl::FormatDuration(flags::kMinTopKWindow), " to ",
                      absl::FormatDuration(flags::kMaxTopKWindow)));
      } else {
        t.top_k_window = *v;
      }
    }
  }

  PlanOp ReadOp(const YAML::Node& n) {
    PlanOp o;
    o.pos = Pos(n);
    if (!CheckMap(n, "an operation",
                  {"op", "kind", "domain", "class", "target", "budget", "tiers", "amplify"})) {
      return o;
    }
    o.op = Scalar(n, "op", true).value_or("");
    if (auto v = Typed<OpKind>(n, "kind", ParseOpKind, true)) o.kind = *v;
    o.domain = Scalar(n, "domain", true).value_or("");
    if (auto v = Typed<flags::OpClass>(n, "class", flags::ParseOpClass)) o.op_class = *v;
    if (auto v = ReadTarget(n, "target")) o.target = *v;
    o.budget = Scalar(n, "budget").value_or("");
    o.tiers = StringList(n, "tiers");
    if (const YAML::Node a = n["amplify"]; a.IsDefined() && !a.IsNull()) ReadAmplify(a, o);
    return o;
  }

  // amplify: {when: "reach > 100000", window: 30s}
  void ReadAmplify(const YAML::Node& n, PlanOp& o) {
    o.amplify_pos = Pos(n);
    if (!CheckMap(n, "amplify", {"when", "window"})) return;
    if (auto w = Scalar(n, "when", true)) {
      o.amplify_when = *w;
      if (auto r = flags::ParseTierRule(*w); !r.ok()) {
        d_.Add(Pos(n["when"]), StrCat("amplify.when: ", r.status().message()));
      }
    }
    if (auto v = Typed<absl::Duration>(n, "window", base::ParseDuration)) {
      if (*v <= absl::ZeroDuration() || *v > flags::kMaxAmplifyWindow) {
        d_.Add(Pos(n["window"]), StrCat("amplify.window must be more than 0 and at most ",
                                        absl::FormatDuration(flags::kMaxAmplifyWindow)));
      } else {
        o.amplify_window = *v;
      }
    }
  }

  Phase ReadPhase(const YAML::Node& n) {
    Phase p;
    p.pos = Pos(n);
    if (!CheckMap(n, "a phase",
                  {"name", "ops", "regions", "steps", "rollback", "require_telemetry"})) {
      return p;
    }
    if (auto text = Scalar(n, "require_telemetry")) {
      if (*text == "false") {
        p.require_telemetry = false;
      } else if (*text != "true") {
        d_.Add(Pos(n["require_telemetry"]),
               StrCat("require_telemetry: \"", *text, "\" is not true or false"));
      }
    }
    p.name = Scalar(n, "name", true).value_or("");
    p.ops = StringList(n, "ops", true);
    p.regions = StringList(n, "regions");
    ForEach(
        n, "steps", [&](const YAML::Node& s) { ReadStep(s, p.steps); }, true);
    const YAML::Node rb = n["rollback"];
    if (rb.IsDefined() && !rb.IsNull() &&
        CheckMap(rb, "rollback", {"on_breach", "to", "keep_possible_for", "after_recovery"})) {
      if (auto v = Typed<BreachAction>(rb, "on_breach", ParseBreachAction)) {
        p.rollback.on_breach = *v;
      }
      if (auto v = Typed<flags::Stage>(rb, "to", flags::ParseStage)) p.rollback.to = *v;
      ReadKeepPossible(rb, p.rollback);
      if (auto text = Scalar(rb, "after_recovery")) {
        if (*text == "wait") {
          p.rollback.wait_after_recovery = true;
        } else if (*text != "resume") {
          d_.Add(Pos(rb["after_recovery"]),
                 StrCat("after_recovery: \"", *text, "\" is not resume or wait"));
        }
      }
    }
    return p;
  }

  // keep_possible_for: a duration ("4h") or a multiple of the phase's expected duration ("2x").
  void ReadKeepPossible(const YAML::Node& rb, RollbackPolicy& policy) {
    auto text = Scalar(rb, "keep_possible_for");
    if (!text.has_value()) return;
    if (text->size() > 1 && text->back() == 'x') {
      auto bp = base::ParsePercentBp(text->substr(0, text->size() - 1));
      if (bp.ok() && *bp > 0) {
        policy.keep_is_factor = true;
        policy.keep_possible_factor = *bp / 100.0;
        return;
      }
    }
    auto d = base::ParseDuration(*text);
    if (!d.ok()) {
      d_.Add(Pos(rb["keep_possible_for"]),
             StrCat("keep_possible_for: \"", *text, "\" is neither a duration (e.g. 4h) nor a ",
                    "multiple of the phase's expected duration (e.g. 2x)"));
      return;
    }
    policy.keep_is_factor = false;
    policy.keep_possible_for = *d;
  }

  void ReadStep(const YAML::Node& n, std::vector<Step>& steps) {
    Step s;
    s.pos = Pos(n);
    std::string kind;
    YAML::Node params;
    if (n.IsScalar()) {
      kind = n.Scalar();
    } else if (n.IsMap() && n.size() == 1) {
      kind = n.begin()->first.as<std::string>("");
      s.pos = Pos(n.begin()->first);
      params = n.begin()->second;
    } else {
      d_.Add(Pos(n), StrCat("a step is one of ", base::StrJoin(kStepKinds, ", "),
                            ", optionally with parameters, e.g. `- ramp: {to: 10%, hold: 1h}`"));
      return;
    }
    auto stage = flags::ParseStage(kind);
    if (!stage.ok() || *stage == flags::Stage::kStrong) {
      d_.Add(s.pos, StrCat("unknown step `", kind, "`",
                           SuggestionSuffix(kind, {std::begin(kStepKinds), std::end(kStepKinds)})));
      return;
    }
    s.stage = *stage;
    std::vector<std::string_view> known = {"hold", "gates"};
    if (s.stage == flags::Stage::kShadow) known.push_back("sample");
    if (s.stage == flags::Stage::kRamp) known.push_back("to");
    const bool has_params = params.IsDefined() && !params.IsNull();
    if (has_params && CheckMap(params, StrCat("step `", kind, "`"), known)) {
      if (auto v = Typed<absl::Duration>(params, "hold", base::ParseDuration)) s.hold = *v;
      if (auto v = Typed<int32_t>(params, "sample", base::ParsePercentBp)) s.sample_bp = *v;
      if (auto v = Typed<int32_t>(params, "to", base::ParsePercentBp)) s.ramp_bp = *v;
      ReadGates(params, s.gates);
    }
    if (s.stage == flags::Stage::kRamp && (!has_params || !params["to"].IsDefined())) {
      d_.Add(s.pos, "a ramp step needs `to`, e.g. `- ramp: {to: 10%, hold: 1h}`");
    }
    if (s.stage == flags::Stage::kEventual) s.ramp_bp = base::kMaxBasisPoints;
    steps.push_back(std::move(s));
  }

  void ReadGates(const YAML::Node& params, std::vector<Gate>& gates) {
    const YAML::Node n = params["gates"];
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsSequence()) {
      d_.Add(Pos(n), StrCat("gates: expected a list of conditions, e.g. ",
                            "[\"divergence_ratio < 0.1%\", manual], not ", TypeName(n)));
      return;
    }
    for (const YAML::Node& g : n) {
      if (!g.IsScalar()) {
        d_.Add(Pos(g), "gates: every gate is one condition such as \"stale_read_ratio < 1%\"");
        continue;
      }
      absl::StatusOr<Gate> gate = ParseGate(g.Scalar());
      if (!gate.ok()) {
        d_.Add(Pos(g),
               base::StrCat("gate \"", g.Scalar(), "\": ", base::ToStd(gate.status().message())));
        continue;
      }
      gate->pos = Pos(g);
      gates.push_back(*gate);
    }
  }

  static absl::StatusOr<OpKind> ParseOpKind(const std::string& s) {
    if (s == "read") return OpKind::kRead;
    if (s == "write") return OpKind::kWrite;
    return absl::InvalidArgumentError(StrCat("unknown kind \"", s, "\"; expected read or write"));
  }

  static absl::StatusOr<BreachAction> ParseBreachAction(const std::string& s) {
    if (s == "rollback") return BreachAction::kRollback;
    if (s == "freeze") return BreachAction::kFreeze;
    return absl::InvalidArgumentError(
        StrCat("unknown action \"", s, "\"; expected rollback or freeze"));
  }

  Diagnostics& d_;

 public:
  // False when a whole section (operations, phases, ...) could not be read as a list.
  bool sections_readable_ = true;
};

}  // namespace

ParseResult ParsePlan(std::string_view yaml) {
  ParseResult result;
  Diagnostics d;
  if (yaml.size() > kMaxPlanBytes) {
    d.Add({1, 1}, StrCat("the plan is ", yaml.size(), " bytes; plans are limited to ",
                         kMaxPlanBytes, " bytes"));
    result.errors = d.Sorted();
    return result;
  }
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsDefined() || root.IsNull()) {
      d.Add({1, 1}, "the plan is empty; start from migrations/social-network.yaml");
    } else {
      Parser parser(d);
      result.plan = parser.Root(root);
      // Also on a partly read plan, to report everything at once — unless a whole section is
      // missing, which would make every reference into it look undefined.
      if (parser.sections_readable_) ValidatePlan(result.plan, d);
    }
  } catch (const YAML::Exception& e) {
    d.Add({e.mark.is_null() ? 1 : e.mark.line + 1, e.mark.is_null() ? 1 : e.mark.column + 1},
          StrCat("YAML syntax error: ", e.msg));
  }
  result.errors = d.Sorted();
  return result;
}

absl::StatusOr<std::string> ReadPlanText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat(path, ": cannot read the plan file; check the path"));
  // One byte past the limit tells "too large" without reading the rest (/dev/zero never ends).
  std::string text(kMaxPlanBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) return absl::NotFoundError(StrCat(path, ": cannot read the plan file"));
  if (text.size() > kMaxPlanBytes) {
    return absl::InvalidArgumentError(StrCat(path, ":1:1: the plan is larger than ", kMaxPlanBytes,
                                             " bytes; split it into several plans"));
  }
  return text;
}

absl::StatusOr<Plan> LoadPlanFile(const std::string& path) {
  auto text = ReadPlanText(path);
  if (!text.ok()) return text.status();
  ParseResult r = ParsePlan(*text);
  if (r.ok()) return std::move(r.plan);
  std::string all;
  for (const Diagnostic& d : r.errors) {
    if (!all.empty()) all += "\n";
    all += FormatDiagnostic(path, d);
  }
  return absl::InvalidArgumentError(all);
}

}  // namespace cmo::migrations
