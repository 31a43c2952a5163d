// The composition root in one process: the plan executor thread steps an applied plan while
// the data path and the control loop run, its events are taken from another thread, a second
// executor on the same state dir is refused, and Stop() ends everything in order. Plain and
// ASan builds only: librdkafka's own threads (the embedded cluster every `cmo serve` starts)
// crash in ThreadSanitizer's allocator, so this cannot carry the `concurrency` label.
#include "orchestrator/control_service.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/api/local_api.h"
#include "orchestrator/service/executor_lock.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/wait.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::WaitFor;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kPlan[] = R"(version: 1
name: likes
operations:
  - {op: post.like, kind: read, domain: likes, target: eventual}
phases:
  - name: likes
    ops: [post.like]
    steps:
      - dual_write
      - shadow: {sample: 5%}
      - ramp: {to: 1%}
)";

TEST(ControlServiceTest, RunsThePlanExecutorBesideTheDataPathAndOwnsItsLifetime) {
  ::cmo::testing::TempDir dir;
  const std::string state = dir.File("state");
  LocalApi api(state, base::SystemClock());
  ASSERT_TRUE(api.Call({"POST", "/v1/plans", {}, {{"yaml", kPlan}, {"reason", "t"}}, "t"}).ok());
  ServeConfig config;
  config.state_dir = state;
  config.listen = "127.0.0.1:0";
  config.regions = {"eu-west"};
  config.executor_every = absl::Milliseconds(20);
  auto service = ControlService::Start(config, base::SystemClock());
  ASSERT_TRUE(service.ok()) << service.status();
  ASSERT_NE((*service)->api(), nullptr);
  ASSERT_TRUE((*service)->StartExecutor().ok());
  auto again = ExecutorLock::Acquire(state, "test");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("already runs in cmo serve"));

  std::vector<migrations::TickEvent> events;
  std::thread reader([&] {  // the serve loop's side: events and errors from another thread
    ASSERT_TRUE(WaitFor(
        [&] {
          EXPECT_TRUE((*service)->error().ok());
          for (auto& e : (*service)->TakePlanEvents()) events.push_back(std::move(e));
          return events.size() >= 2;  // dual_write, shadow; ramp waits for telemetry
        },
        20s));
  });
  reader.join();
  EXPECT_EQ(events[0].op, "post.like");
  auto status = api.Call({"GET", "/v1/plans", {}, nullptr, "t"});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)[0]["stage"], "shadow");
  ASSERT_TRUE((*service)->Stop().ok());
  EXPECT_TRUE(ExecutorLock::Acquire(state, "test").ok()) << "Stop() releases the executor";
}

}  // namespace
}  // namespace cmo::orchestrator
