// `cmo demo`: the end-to-end story on a laptop (orchestrator/demo/demo.h).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "base/strings.h"
#include "base/units.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/demo/demo.h"

namespace cmo::orchestrator {
namespace {

struct DemoCliOptions {
  std::string duration = "150s";
  uint64_t seed = 1;
  bool no_faults = false;
  int users = 10'000;
  int rate = 2000;
  std::string plan;
  std::string listen = "127.0.0.1:0";
};

int RunDemoCommand(const DemoCliOptions& o, const GlobalOptions& global) {
  if (absl::Status s = RequireLocal(global, "demo"); !s.ok()) return ReportError(s);
  auto duration = base::ParseDuration(o.duration);
  if (!duration.ok()) {
    return ReportError(absl::InvalidArgumentError(
        base::StrCat("--duration: ", duration.status().message())));
  }
  DemoOptions d;
  d.duration = *duration;
  d.seed = o.seed;
  d.faults = !o.no_faults;
  d.users = o.users;
  d.ops_per_s = o.rate;
  d.plan_file = o.plan;
  d.listen = o.listen;
  d.live = ::isatty(STDOUT_FILENO) == 1;
  if (global.state_dir_given) {
    d.state_dir = global.state_dir;
  } else {
    char tmpl[] = "/tmp/cmo-demo-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      return ReportError(absl::FailedPreconditionError("cannot create a state dir in /tmp"));
    }
    d.state_dir = tmpl;
  }
  absl::Status s = RunDemo(d, std::cout);
  if (!s.ok()) {
    std::error_code ec;  // refused before it started: leave no empty dir behind
    if (!global.state_dir_given && std::filesystem::is_empty(d.state_dir, ec)) {
      std::filesystem::remove(d.state_dir, ec);
    }
    return ReportError(s);
  }
  std::cout << "demo finished: the story ran to its end\n";
  return kExitOk;
}

}  // namespace

void SetupDemoCommand(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto o = std::make_shared<DemoCliOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo",
      "The whole migration on this machine in a few minutes: embedded Kafka, two replica "
      "regions with link lag, the social-network plan with time compressed, a power-law "
      "workload, an injected fault, the breaker's rollback and recovery, reconciliation and a "
      "divergence report. Uses a fresh state dir in /tmp unless --state-dir is given.");
  demo->add_option("--duration", o->duration, "How long the story runs (default 150s, min 60s)");
  demo->add_option("--seed", o->seed, "Workload and fault seed: same seed, same story");
  demo->add_flag("--no-faults", o->no_faults, "Run the migration without the injected fault");
  demo->add_option("--users", o->users, "Synthetic users (default 10000)")
      ->check(CLI::Range(100, 10'000'000));
  demo->add_option("--rate", o->rate, "Workload ops/s over both regions (default 2000)")
      ->check(CLI::Range(10, 1'000'000));
  demo->add_option("--plan", o->plan,
                   "Plan file (default migrations/social-network.yaml of the source tree)");
  demo->add_option("--listen", o->listen,
                   "Dashboard and API address while the demo runs (default: a free port)");
  registry.On(demo, [o, &global] { return RunDemoCommand(*o, global); });
}

}  // namespace cmo::orchestrator
