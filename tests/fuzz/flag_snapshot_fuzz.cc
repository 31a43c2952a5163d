// libFuzzer target for flag snapshots as they arrive on cmo.flags: any bytes decode to a
// snapshot or an error (never a crash), a snapshot re-encodes to one with the same revision,
// flags, support overrides and tiers (equal after the round trip), and routing the subjects an
// override or a tier names, with a context built from the tier's rules, never crashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "flags/flag_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto snap = cmo::flags::DecodeSnapshot(text);
  if (!snap.ok()) return 0;
  const auto again =
      cmo::flags::DecodeSnapshot(cmo::flags::EncodeSnapshot(**snap, absl::UnixEpoch()));
  if (!again.ok()) __builtin_trap();
  if ((*again)->revision() != (*snap)->revision()) __builtin_trap();
  if ((*again)->flags().size() != (*snap)->flags().size()) __builtin_trap();
  if ((*again)->overrides().size() != (*snap)->overrides().size()) __builtin_trap();
  if ((*again)->tiers() != (*snap)->tiers()) __builtin_trap();
  // Routing with the overrides, whatever they say, never crashes.
  for (const cmo::flags::Flag& f : (*snap)->flags()) {
    for (const cmo::flags::Override& o : (*snap)->overrides())
      (void)(*snap)->Route(f.op, o.subject);
    for (const cmo::flags::Tier& t : (*snap)->tiers()) {
      // Each rule's own attributes and values as the request's context.
      std::vector<cmo::flags::Attribute> context;
      std::vector<cmo::flags::TierRule> rules;
      for (const std::string& w : t.when) {
        if (auto r = cmo::flags::ParseTierRule(w); r.ok()) rules.push_back(*std::move(r));
      }
      for (const cmo::flags::TierRule& r : rules) {
        for (const cmo::flags::Condition& c : r.all) context.push_back({c.key, c.value});
      }
      for (const std::string& s : t.subjects) (void)(*snap)->Route(f.op, s, context);
      for (const std::string& s : t.heavy) (void)(*snap)->Route(f.op, s);
      const cmo::flags::Decision d = (*snap)->Route(f.op, "anyone", context);
      if (d.target == nullptr) __builtin_trap();
    }
  }
  return 0;
}
