#include "flags/flag_json.h"

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

}  // namespace cmo::flags
