#include "flags/amplifier.h"

#include "base/strings.h"
#include "flags/tier.h"

namespace cmo::flags {

absl::Status ValidateAmplifier(const Amplifier& a) {
  const auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(base::StrCat("amplify of op \"", a.op, "\": ", what));
  };
  if (a.op.empty()) return bad("no op");
  if (absl::StatusOr<TierRule> r = ParseTierRule(a.when); !r.ok()) {
    return bad(base::ToStd(r.status().message()));
  }
  if (a.window <= absl::ZeroDuration() || a.window > kMaxAmplifyWindow) {
    return bad(base::StrCat("window must be more than 0 and at most ",
                            absl::FormatDuration(kMaxAmplifyWindow)));
  }
  return absl::OkStatus();
}

nlohmann::json AmplifierToJson(const Amplifier& a) {
  return {{"plan", a.plan},
          {"op", a.op},
          {"when", a.when},
          {"window_ms", absl::ToInt64Milliseconds(a.window)}};
}

absl::StatusOr<Amplifier> AmplifierFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("amplifier: not an object");
  Amplifier a;
  for (auto [field, out] :
       {std::pair<const char*, std::string*>{"plan", &a.plan}, {"op", &a.op}, {"when", &a.when}}) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_string()) {
      return absl::InvalidArgumentError(base::StrCat("amplifier: ", field, " must be a string"));
    }
    *out = it->get<std::string>();
  }
  auto w = j.find("window_ms");
  if (w == j.end() || !w->is_number_integer()) {
    return absl::InvalidArgumentError("amplifier: window_ms must be an integer");
  }
  a.window = absl::Milliseconds(w->get<int64_t>());
  if (absl::Status s = ValidateAmplifier(a); !s.ok()) return s;
  return a;
}

}  // namespace cmo::flags
