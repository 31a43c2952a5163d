#include "flags/flag_json.h"

#include "base/json.h"
#include "base/strings.h"

namespace cmo::flags {

double BpToPercent(int32_t bp) { return bp / 100.0; }

nlohmann::json FlagToJson(const Flag& f) {
  return nlohmann::json{
      {"op", f.op},
      {"domain", f.domain},
      {"class", OpClassName(f.op_class)},
      {"target", TargetName(f.target)},
      {"stage", StageName(f.stage)},
      {"percent", BpToPercent(f.ramp_bp)},
      {"ramp_bp", f.ramp_bp},
      {"shadow_sample_percent", BpToPercent(f.shadow_bp)},
      {"shadow_bp", f.shadow_bp},
      {"salt", f.salt},
      {"breaker", BreakerStateName(f.breaker)},
      {"probe_bp", f.probe_bp},
      {"effective_percent", BpToPercent(EffectiveEventualBp(f))},
      {"revision", f.revision},
  };
}

absl::StatusOr<Flag> FlagFromJson(const nlohmann::json& j) {
  try {
    Flag f;
    f.op = j.at("op").get<std::string>();
    f.domain = j.at("domain").get<std::string>();
    absl::StatusOr<OpClass> cls = ParseOpClass(j.at("class").get<std::string>());
    absl::StatusOr<Target> target = ParseTarget(j.at("target").get<std::string>());
    absl::StatusOr<Stage> stage = ParseStage(j.at("stage").get<std::string>());
    absl::StatusOr<BreakerState> breaker = ParseBreakerState(j.at("breaker").get<std::string>());
    for (const absl::Status& s :
         {cls.status(), target.status(), stage.status(), breaker.status()}) {
      if (!s.ok()) return s;
    }
    f.op_class = *cls;
    f.target = *target;
    f.stage = *stage;
    f.breaker = *breaker;
    // Basis points are 0..10000; anything outside int32 is refused here, the rest by
    // ValidateFlag.
    auto bp = [&](const char* name) {
      const int64_t v = base::JsonInt(j.at(name));
      if (v < INT32_MIN || v > INT32_MAX) throw std::out_of_range(std::string(name));
      return static_cast<int32_t>(v);
    };
    f.ramp_bp = bp("ramp_bp");
    f.shadow_bp = bp("shadow_bp");
    f.salt = j.at("salt").get<std::string>();
    f.probe_bp = bp("probe_bp");
    f.revision = base::JsonInt(j.at("revision"));
    return f;
  } catch (const std::exception& e) {  // nlohmann's, or JsonInt's out_of_range
    return absl::InvalidArgumentError(std::string("malformed flag: ") + e.what());
  }
}

std::string EncodeSnapshot(const Snapshot& snapshot, absl::Time published) {
  nlohmann::json flags = nlohmann::json::array();
  for (const Flag& f : snapshot.flags()) flags.push_back(FlagToJson(f));
  nlohmann::json overrides = nlohmann::json::array();
  for (const Override& o : snapshot.overrides()) overrides.push_back(OverrideToSnapshotJson(o));
  nlohmann::json tiers = nlohmann::json::array();
  for (const Tier& t : snapshot.tiers()) tiers.push_back(TierToJson(t));
  nlohmann::json amplifiers = nlohmann::json::array();
  for (const Amplifier& a : snapshot.amplifiers()) amplifiers.push_back(AmplifierToJson(a));
  return base::JsonText(nlohmann::json{{"v", 1},
                                       {"revision", snapshot.revision()},
                                       {"published_ms", absl::ToUnixMillis(published)},
                                       {"flags", flags},
                                       {"overrides", overrides},
                                       {"tiers", tiers},
                                       {"amplifiers", amplifiers}});
}

namespace {

// The array `field` of a snapshot (absent: none), of at most `max` items each parsed by `parse`.
template <typename T, typename Parse>
absl::StatusOr<std::vector<T>> OptionalArray(const nlohmann::json& j, const char* field, int max,
                                             Parse parse) {
  std::vector<T> out;
  auto it = j.find(field);
  if (it == j.end()) return out;
  if (!it->is_array() || it->size() > static_cast<size_t>(max)) {
    return absl::InvalidArgumentError(
        base::StrCat("flag snapshot: ", field, " must be an array of at most ", max));
  }
  for (const nlohmann::json& item : *it) {
    absl::StatusOr<T> parsed = parse(item);
    if (!parsed.ok()) return parsed.status();
    out.push_back(*std::move(parsed));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Snapshot>> DecodeSnapshot(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("v") || j["v"] != 1 ||
      !j.contains("revision") || !j["revision"].is_number_integer() || !j.contains("flags") ||
      !j["flags"].is_array()) {
    return absl::InvalidArgumentError("not a version-1 flag snapshot");
  }
  std::vector<Flag> flags;
  for (const nlohmann::json& f : j["flags"]) {
    absl::StatusOr<Flag> flag = FlagFromJson(f);
    if (!flag.ok()) return flag.status();
    // A snapshot from a buggy or hostile publisher must not move a critical op off strong.
    if (absl::Status s = ValidateFlag(*flag); !s.ok()) return s;
    flags.push_back(*std::move(flag));
  }
  // Overrides only ever force strong, so one from a bad publisher cannot move traffic off it;
  // publishers that predate them send none.
  absl::StatusOr<std::vector<Override>> overrides =
      OptionalArray<Override>(j, "overrides", kMaxOverrides, OverrideFromSnapshotJson);
  if (!overrides.ok()) return overrides.status();
  // A tier moves its subjects to a model of its own, but only on ops whose flags already route
  // eventual (or holds them strong): it cannot move a critical op, whose flag says strong.
  absl::StatusOr<std::vector<Tier>> tiers =
      OptionalArray<Tier>(j, "tiers", kMaxSnapshotTiers, TierFromJson);
  if (!tiers.ok()) return tiers.status();
  // A guard only ever sends reads strong.
  absl::StatusOr<std::vector<Amplifier>> amplifiers =
      OptionalArray<Amplifier>(j, "amplifiers", kMaxSnapshotTiers, AmplifierFromJson);
  if (!amplifiers.ok()) return amplifiers.status();
  int64_t revision = 0;
  try {
    revision = base::JsonInt(j["revision"]);
  } catch (const std::out_of_range&) {
    return absl::InvalidArgumentError("flag snapshot: revision out of range");
  }
  return std::make_shared<const Snapshot>(revision, std::move(flags), *std::move(overrides),
                                          *std::move(tiers), *std::move(amplifiers));
}

}  // namespace cmo::flags
