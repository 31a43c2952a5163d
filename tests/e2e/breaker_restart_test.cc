// A tripped breaker and its cooldown survive a kill -9 of `cmo serve`: the restarted control
// service keeps the op on the strong path and probes only when the cooldown that began at the
// trip (not at the restart) is over.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "base/message_auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/cmo_cli.h"
#include "tests/fakes/divergence_burst.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/wait.h"

namespace cmo {
namespace {

using ::cmo::testing::Child;
using ::cmo::testing::WaitFor;
using namespace std::chrono_literals;

class BreakerRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cli_.Ok({"ops", "add", "post.like", "--domain", "likes", "--target", "eventual"});
    cli_.Ok({"advance", "post.like", "--reason", "dual-write"});
    cli_.Ok({"advance", "post.like", "--sample", "5%", "--reason", "shadow"});
    cli_.Ok({"advance", "post.like", "--to", "50%", "--reason", "ramp", "--confirm"});
    std::ofstream(Config()) << "breaker: {cooldown: 6s, probe_for: 1s, evaluate_every: 50ms,"
                               " short_window: 5s, long_window: 30s}\n";
  }

  std::string Config() const { return cli_.dir() + "/serve.yaml"; }

  std::unique_ptr<Child> StartServe() {
    const std::string bootstrap = cli_.StateDir() + "/kafka.bootstrap";
    std::filesystem::remove(bootstrap);
    auto serve = std::make_unique<Child>(
        std::vector<std::string>{CMO_BINARY, "--state-dir", cli_.StateDir(), "serve", "--config",
                                 Config(), "--regions", "eu-west", "--listen", "127.0.0.1:0"});
    EXPECT_TRUE(WaitFor([&] { return std::filesystem::exists(bootstrap); }, 20s));
    return serve;
  }

  // What clients send when their shadow reads find a divergence burst.
  void SendBadTelemetry() {
    std::ifstream in(cli_.StateDir() + "/kafka.bootstrap");
    std::string bootstrap;
    in >> bootstrap;
    const absl::Status sent =
        ::cmo::testing::SendDivergenceBurst(bootstrap, base::MessageKeyPath(cli_.StateDir()));
    ASSERT_TRUE(sent.ok()) << sent;
  }

  std::string Breaker() {
    nlohmann::json j = cli_.Json({"breakers"});
    return j.is_array() && !j.empty() ? j[0]["breaker"].get<std::string>() : "";
  }

  ::cmo::testing::CmoCli cli_;
};

TEST_F(BreakerRestartTest, StateAndCooldownSurviveKillNine) {
  auto serve = StartServe();
  // The control loop starts reading telemetry at the end of the topic: send until it trips.
  ASSERT_TRUE(WaitFor(
      [&] {
        SendBadTelemetry();
        return Breaker() == "open";
      },
      20s));
  const int64_t tripped_ms = cli_.Json({"breakers"})[0]["since_ms"].get<int64_t>();
  serve->Kill(SIGKILL);
  serve->Wait();
  serve = StartServe();
  EXPECT_EQ(Breaker(), "open") << "the restarted service must not forget the trip";
  ASSERT_TRUE(WaitFor([&] { return Breaker() == "half_open"; }, 30s));
  const int64_t probing_ms = cli_.Json({"breakers"})[0]["since_ms"].get<int64_t>();
  EXPECT_GE(probing_ms - tripped_ms, 6000) << "the cooldown runs from the trip";
  EXPECT_LT(probing_ms - tripped_ms, 12000) << "and not again from the restart";
  nlohmann::json history = cli_.Json({"history", "post.like", "--limit", "2"});
  EXPECT_EQ(history[0]["action"], "breaker_half_open");
  EXPECT_EQ(history[1]["action"], "breaker_open");
  serve->Kill(SIGTERM);
  EXPECT_EQ(serve->Wait(), 0);
}

}  // namespace
}  // namespace cmo
