#include "flags/tier.h"

#include <charconv>
#include <cmath>

#include "base/strings.h"

namespace cmo::flags {
namespace {

constexpr size_t kMaxRuleBytes = 512;
constexpr size_t kMaxSubjectBytes = 256;
constexpr std::string_view kGrammar =
    "a rule is `ATTRIBUTE OP VALUE [and ATTRIBUTE OP VALUE ...]` with OP one of "
    ">=, >, <=, <, ==, != (e.g. `followers >= 100000 and regions_reached >= 3`)";

bool IsKeyChar(char c, bool first) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return first ? alpha : alpha || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

std::optional<double> ParseNumber(std::string_view text) {
  double v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

// A cursor over one rule's text.
class RuleLexer {
 public:
  explicit RuleLexer(std::string_view text) : text_(text) {}
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }
  std::string_view Key() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() && IsKeyChar(text_[pos_], pos_ == start)) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  std::optional<RuleOp> Op() {
    SkipSpace();
    static constexpr std::pair<std::string_view, RuleOp> kOps[] = {
        {">=", RuleOp::kGreaterEqual}, {"<=", RuleOp::kLessEqual}, {"==", RuleOp::kEqual},
        {"!=", RuleOp::kNotEqual},     {">", RuleOp::kGreater},    {"<", RuleOp::kLess}};
    for (const auto& [text, op] : kOps) {
      if (text_.substr(pos_, text.size()) == text) {
        pos_ += text.size();
        return op;
      }
    }
    return std::nullopt;
  }
  // A quoted string ("..." without escapes) or a run of non-space characters.
  std::optional<std::string_view> Value(bool* quoted) {
    SkipSpace();
    *quoted = pos_ < text_.size() && text_[pos_] == '"';
    if (*quoted) {
      const size_t close = text_.find('"', pos_ + 1);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view v = text_.substr(pos_ + 1, close - pos_ - 1);
      pos_ = close + 1;
      return v;
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ' ' && text_[pos_] != '\t') ++pos_;
    if (pos_ == start) return std::nullopt;
    return text_.substr(start, pos_ - start);
  }
  std::string_view Rest() const { return text_.substr(pos_); }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

absl::Status RuleError(std::string_view text, std::string_view what) {
  return absl::InvalidArgumentError(base::StrCat("rule \"", text, "\": ", what, "; ", kGrammar));
}

bool CompareNumbers(double a, RuleOp op, double b) {
  switch (op) {
    case RuleOp::kLess:
      return a < b;
    case RuleOp::kLessEqual:
      return a <= b;
    case RuleOp::kGreater:
      return a > b;
    case RuleOp::kGreaterEqual:
      return a >= b;
    case RuleOp::kEqual:
      return a == b;
    case RuleOp::kNotEqual:
      return a != b;
  }
  return false;
}

bool Holds(const Condition& c, EvalContext context) {
  for (const Attribute& a : context) {
    if (a.key != c.key) continue;
    if (c.number.has_value()) {
      std::optional<double> v = ParseNumber(a.value);
      return v.has_value() && CompareNumbers(*v, c.op, *c.number);
    }
    if (c.op == RuleOp::kEqual) return a.value == c.value;
    if (c.op == RuleOp::kNotEqual) return a.value != c.value;
    return false;  // ordering text is refused by the parser; never reached
  }
  return false;
}

absl::StatusOr<Target> TargetFromJson(const nlohmann::json& j) {
  if (!j.is_string()) return absl::InvalidArgumentError("tier: target must be a string");
  return ParseTarget(j.get<std::string>());
}

// Reads an array of strings field, if present.
absl::Status StringsFromJson(const nlohmann::json& j, const char* field,
                             std::vector<std::string>& out) {
  auto it = j.find(field);
  if (it == j.end()) return absl::OkStatus();
  if (!it->is_array()) {
    return absl::InvalidArgumentError(base::StrCat("tier: ", field, " must be an array"));
  }
  for (const nlohmann::json& s : *it) {
    if (!s.is_string()) {
      return absl::InvalidArgumentError(base::StrCat("tier: ", field, " must hold strings"));
    }
    out.push_back(s.get<std::string>());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TierRule> ParseTierRule(std::string_view text) {
  if (text.size() > kMaxRuleBytes) {
    return RuleError(text.substr(0, 40), base::StrCat("longer than ", kMaxRuleBytes, " bytes"));
  }
  TierRule rule;
  rule.text = std::string(text);
  RuleLexer lex(text);
  while (true) {
    Condition c;
    c.key = std::string(lex.Key());
    if (c.key.empty()) return RuleError(text, "expected an attribute name");
    std::optional<RuleOp> op = lex.Op();
    if (!op.has_value()) return RuleError(text, base::StrCat("expected an operator after ", c.key));
    c.op = *op;
    bool quoted = false;
    std::optional<std::string_view> value = lex.Value(&quoted);
    if (!value.has_value()) return RuleError(text, base::StrCat("expected a value after ", c.key));
    c.value = std::string(*value);
    if (!quoted) c.number = ParseNumber(c.value);
    if (!c.number.has_value() && c.op != RuleOp::kEqual && c.op != RuleOp::kNotEqual) {
      return RuleError(
          text, base::StrCat("\"", c.value, "\" is not a number; only == and != ", "compare text"));
    }
    rule.all.push_back(std::move(c));
    if (lex.AtEnd()) break;
    if (lex.Key() != "and") {
      return RuleError(text, base::StrCat("expected `and` before \"", lex.Rest(), "\""));
    }
  }
  return rule;
}

bool RuleMatches(const TierRule& rule, EvalContext context) {
  for (const Condition& c : rule.all) {
    if (!Holds(c, context)) return false;
  }
  return !rule.all.empty();
}

std::string_view TierViaName(TierVia via) {
  switch (via) {
    case TierVia::kNone:
      return "none";
    case TierVia::kList:
      return "list";
    case TierVia::kRule:
      return "rule";
    case TierVia::kTopK:
      return "top_k";
  }
  return "?";
}

absl::Status ValidateTier(const Tier& t) {
  const auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(base::StrCat("tier \"", t.name, "\": ", what));
  };
  if (t.name.empty()) return bad("the name is empty");
  if (t.join_at != Stage::kRamp && t.join_at != Stage::kEventual) {
    return bad(base::StrCat("join_at must be ramp or eventual, not ", StageName(t.join_at)));
  }
  if (t.subjects.empty() && t.when.empty() && t.top_k == 0) {
    return bad("no way to be in it: give subjects, when (rules) or top_k");
  }
  if (t.subjects.size() > static_cast<size_t>(kMaxTierSubjects)) {
    return bad(base::StrCat("more than ", kMaxTierSubjects, " subjects; every client holds the ",
                            "list: use a when rule or top_k for large sets"));
  }
  for (const std::string& s : t.subjects) {
    if (s.empty() || s.size() > kMaxSubjectBytes) {
      return bad(base::StrCat("subjects must be 1 to ", kMaxSubjectBytes, " bytes"));
    }
  }
  if (t.when.size() > static_cast<size_t>(kMaxTierRules)) {
    return bad(base::StrCat("more than ", kMaxTierRules, " rules"));
  }
  for (const std::string& w : t.when) {
    if (absl::StatusOr<TierRule> r = ParseTierRule(w); !r.ok())
      return bad(base::ToStd(r.status().message()));
  }
  if (t.top_k < 0 || t.top_k > kMaxTopK) {
    return bad(base::StrCat("top_k must be 0 to ", kMaxTopK));
  }
  if (t.top_k > 0 && (t.top_k_window < kMinTopKWindow || t.top_k_window > kMaxTopKWindow)) {
    return bad(base::StrCat("the top_k window must be ", absl::FormatDuration(kMinTopKWindow),
                            " to ", absl::FormatDuration(kMaxTopKWindow)));
  }
  if (t.heavy.size() > static_cast<size_t>(t.top_k)) return bad("more heavy writers than top_k");
  return absl::OkStatus();
}

nlohmann::json TierToJson(const Tier& t) {
  return {{"plan", t.plan},
          {"name", t.name},
          {"target", TargetName(t.target)},
          {"join_at", StageName(t.join_at)},
          {"ops", t.ops},
          {"subjects", t.subjects},
          {"when", t.when},
          {"top_k", t.top_k},
          {"window_ms", absl::ToInt64Milliseconds(t.top_k_window)},
          {"heavy", t.heavy},
          {"priority", t.priority}};
}

absl::StatusOr<Tier> TierFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("tier: not an object");
  Tier t;
  for (auto [field, out] :
       {std::pair<const char*, std::string*>{"plan", &t.plan}, {"name", &t.name}}) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_string()) {
      return absl::InvalidArgumentError(base::StrCat("tier: ", field, " must be a string"));
    }
    *out = it->get<std::string>();
  }
  absl::StatusOr<Target> target = TargetFromJson(j.value("target", nlohmann::json()));
  if (!target.ok()) return target.status();
  t.target = *target;
  auto join = j.find("join_at");
  if (join == j.end() || !join->is_string()) {
    return absl::InvalidArgumentError("tier: join_at must be a string");
  }
  absl::StatusOr<Stage> stage = ParseStage(join->get<std::string>());
  if (!stage.ok()) return stage.status();
  t.join_at = *stage;
  for (auto [field, out] : {std::pair<const char*, std::vector<std::string>*>{"ops", &t.ops},
                            {"subjects", &t.subjects},
                            {"when", &t.when},
                            {"heavy", &t.heavy}}) {
    if (absl::Status s = StringsFromJson(j, field, *out); !s.ok()) return s;
  }
  auto k = j.find("top_k");
  auto window = j.find("window_ms");
  if (k != j.end()) {
    if (!k->is_number_integer() || window == j.end() || !window->is_number_integer()) {
      return absl::InvalidArgumentError("tier: top_k and window_ms must be integers");
    }
    const int64_t kv = k->get<int64_t>();
    if (kv < 0 || kv > kMaxTopK) return absl::InvalidArgumentError("tier: top_k out of range");
    t.top_k = static_cast<int32_t>(kv);
    t.top_k_window = absl::Milliseconds(window->get<int64_t>());
  }
  if (auto p = j.find("priority"); p != j.end()) {  // absent in snapshots of older services
    if (!p->is_boolean()) return absl::InvalidArgumentError("tier: priority must be a boolean");
    t.priority = p->get<bool>();
  }
  if (absl::Status s = ValidateTier(t); !s.ok()) return s;
  return t;
}

}  // namespace cmo::flags
