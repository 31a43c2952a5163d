// `cmo watermarks` and `cmo watermarks clamp`: what each region's applier has recorded per
// partition, and the operator's way to clear a watermark poisoned by a forged event (written
// before appliers checked LSNs against the primary): every recorded LSN above the primary's
// last LSN is lowered to it. Audited. Local state dir only (the stores are files there).
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/names.h"
#include "base/strings.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"
#include "orchestrator/service/control_state.h"
#include "shadow/deployment_stores.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::orchestrator {
namespace {

struct WatermarkOptions {
  std::vector<std::string> regions;  // empty: every replica in the state dir
  std::string reason;
  bool dry_run = false;
};

absl::StatusOr<std::vector<std::string>> Regions(const WatermarkOptions& o,
                                                 const GlobalOptions& global) {
  std::vector<std::string> regions = o.regions;
  if (regions.empty()) regions = shadow::ReplicaRegions(global.state_dir);
  for (const std::string& r : regions) {
    if (absl::Status s = base::ValidateName("region", r, "eu-west"); !s.ok()) return s;
  }
  if (regions.empty()) {
    return absl::FailedPreconditionError(base::StrCat("no replica in ", global.state_dir,
                                                      "; start `cmo serve` with --regions first"));
  }
  return regions;
}

int RunWatermarks(const WatermarkOptions& o, const GlobalOptions& global, bool clamp) {
  if (absl::Status s = RequireLocal(global, clamp ? "watermarks clamp" : "watermarks"); !s.ok()) {
    return ReportError(s);
  }
  auto regions = Regions(o, global);
  if (!regions.ok()) return ReportError(regions.status());
  auto primary = shadow::OpenPrimary(global.state_dir, base::SystemClock());
  if (!primary.ok()) return ReportError(primary.status());
  auto last = (*primary)->LastLsn();
  if (!last.ok()) return ReportError(last.status());
  nlohmann::json out = nlohmann::json::array();
  Table t({"region", "topic", "partition", "recorded lsn", "state"});
  nlohmann::json changed = nlohmann::json::object();
  for (const std::string& region : *regions) {
    auto replica = shadow::OpenReplica(global.state_dir, region);
    if (!replica.ok()) return ReportError(replica.status());
    auto progress = (*replica)->Progress();
    if (!progress.ok()) return ReportError(progress.status());
    int poisoned = 0;
    for (const store::PartitionProgress& p : *progress) {
      const bool bad = p.max_lsn > *last;
      poisoned += bad;
      const std::string state =
          bad ? (clamp && !o.dry_run ? "clamped" : "above the primary") : "ok";
      out.push_back({{"region", region},
                     {"topic", p.topic},
                     {"partition", p.partition},
                     {"recorded_lsn", p.max_lsn},
                     {"primary_last_lsn", *last},
                     {"state", state}});
      t.AddRow({region, p.topic, base::StrCat(p.partition), base::StrCat(p.max_lsn), state});
    }
    if (clamp && !o.dry_run && poisoned > 0) {
      auto n = (*replica)->ClampProgress(*last);
      if (!n.ok()) return ReportError(n.status());
      changed[region] = *n;
    }
  }
  if (clamp && !o.dry_run && !changed.empty()) {
    auto state = OpenControlState(global.state_dir, /*create=*/false, base::SystemClock());
    if (!state.ok()) return ReportError(state.status());
    auto logged =
        (*state)->flags->RecordEvent("watermarks", {Actor(), o.reason, "watermarks.clamp", false},
                                     nlohmann::json{{"primary_last_lsn", *last}},
                                     nlohmann::json{{"partitions_clamped", changed}});
    if (!logged.ok()) return ReportError(logged.status());
  }
  if (global.json()) {
    PrintJson(out);
  } else {
    t.Print(std::cout);
    std::cout << "primary's last LSN: " << *last << "\n";
  }
  return kExitOk;
}

}  // namespace

void SetupWatermarkCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto o = std::make_shared<WatermarkOptions>();
  CLI::App* wm = app.add_subcommand(
      "watermarks", "Each region's recorded highest LSN per partition, against the primary's");
  wm->add_option("--region", o->regions, "Only these regions (default: every replica)");
  registry.On(wm, [o, &global] { return RunWatermarks(*o, global, /*clamp=*/false); });
  auto c = std::make_shared<WatermarkOptions>();
  CLI::App* clamp = wm->add_subcommand(
      "clamp",
      "Lower recorded LSNs above the primary's last LSN to it (clears a watermark "
      "poisoned by a forged event); audited");
  clamp->add_option("--region", c->regions, "Only these regions (default: every replica)");
  clamp->add_option("--reason", c->reason, "Why (for the audit log)")->required();
  clamp->add_flag("--dry-run", c->dry_run, "Show what would change, change nothing");
  registry.On(clamp, [c, &global] { return RunWatermarks(*c, global, /*clamp=*/true); });
}

}  // namespace cmo::orchestrator
