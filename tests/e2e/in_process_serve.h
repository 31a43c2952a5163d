// `cmo serve`'s data path and control loop in the test's process (embedded Kafka), over a
// fresh state dir with ops registered, and clients on it: the setup of the end-to-end tests of
// what travels between clients through Kafka (tiers, hot items, converged marks).
#ifndef CMO_TESTS_E2E_IN_PROCESS_SERVE_H_
#define CMO_TESTS_E2E_IN_PROCESS_SERVE_H_

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "orchestrator/service/control_state.h"
#include "orchestrator/service/server.h"
#include "shadow/client.h"
#include "tests/fakes/temp_dir.h"

namespace cmo::testing {

class InProcessServe {
 public:
  // Registers `ops` of `domain` (target eventual) at `stage` (eventual: ramp 100%), lets
  // `more` add to the control state (tiers, guards), then starts the server for `regions`
  // (with what `configure` changes in its config).
  InProcessServe(const std::vector<std::string>& ops, const std::string& domain, flags::Stage stage,
                 const std::vector<std::string>& regions,
                 const std::function<void(flags::FlagStore&)>& more = nullptr,
                 const std::function<void(orchestrator::ServeConfig&)>& configure = nullptr) {
    {
      auto state = orchestrator::OpenControlState(state_dir_, /*create=*/true, base::SystemClock());
      EXPECT_TRUE(state.ok()) << state.status();
      if (!state.ok()) return;
      flags::FlagStore& store = *(*state)->flags;
      for (const std::string& op : ops) {
        flags::Flag f;
        f.op = op;
        f.domain = domain;
        f.target.model = flags::Model::kEventual;
        EXPECT_TRUE(store.Add(f, {"t", "t", "ops.add", false}).ok());
        EXPECT_TRUE(store
                        .Update(op, {"t", "t", "advance", false},
                                [&](flags::Flag& g) {
                                  g.stage = stage;
                                  g.ramp_bp = stage >= flags::Stage::kRamp ? 10'000 : 0;
                                  return absl::OkStatus();
                                })
                        .ok());
      }
      if (more) more(store);
    }
    orchestrator::ServeConfig config;
    config.state_dir = state_dir_;
    config.regions = regions;
    if (configure) configure(config);
    auto server = orchestrator::Server::Start(config, base::SystemClock());
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = *std::move(server);
  }
  ~InProcessServe() {
    clients_.clear();
    if (server_ != nullptr) {
      EXPECT_TRUE(server_->Stop().ok());
    }
  }

  // A client of `region` on the state dir (flags, telemetry and the rest through Kafka); owned
  // here, closed before the server stops.
  shadow::Client& Client(const std::string& region) {
    shadow::ClientConfig cc;
    cc.state_dir = state_dir_;
    cc.region = region;
    auto c = shadow::Client::Open(cc);
    if (!c.ok()) {
      ADD_FAILURE() << c.status();
      std::abort();  // the test cannot go on without its client
    }
    clients_.push_back(*std::move(c));
    return *clients_.back();
  }
  void CloseClients() { clients_.clear(); }

  orchestrator::Server& server() { return *server_; }
  const std::string& state_dir() const { return state_dir_; }
  bool started() const { return server_ != nullptr; }

 private:
  TempDir dir_;
  std::string state_dir_ = dir_.File("state");
  std::unique_ptr<orchestrator::Server> server_;
  std::vector<std::unique_ptr<shadow::Client>> clients_;
};

}  // namespace cmo::testing

#endif  // CMO_TESTS_E2E_IN_PROCESS_SERVE_H_
