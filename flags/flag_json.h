// The JSON shape of a flag, shared by the audit log, the CLI's --output json and (later) the API.
// Field names are a contract with operators' scripts: add fields, never rename or remove them.
#ifndef CMO_FLAGS_FLAG_JSON_H_
#define CMO_FLAGS_FLAG_JSON_H_

#include <nlohmann/json.hpp>

#include "flags/flag.h"

namespace cmo::flags {

// {"op","domain","class","target","stage","percent","ramp_bp","shadow_sample_percent",
//  "shadow_bp","salt","breaker","probe_bp","effective_percent","revision"}; percents are numbers.
nlohmann::json FlagToJson(const Flag& flag);

// Percent as a JSON number: 1234 bp -> 12.34.
double BpToPercent(int32_t bp);

}  // namespace cmo::flags

#endif  // CMO_FLAGS_FLAG_JSON_H_
