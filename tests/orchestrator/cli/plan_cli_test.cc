// `cmo plan ...`, `pause`, `resume` and plan-driven `advance`, through the real binary;
// and a kill -9 of a running `cmo plan run` that must resume with the same hold clock.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "base/sqlite.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/cmo_cli.h"
#include "tests/fakes/wait.h"

namespace cmo {
namespace {

using ::cmo::testing::RunResult;
using ::testing::HasSubstr;

constexpr char kFastPlan[] = R"(version: 1
name: fast
operations:
  - {op: post.like, kind: write, domain: likes, target: eventual}
  - {op: feed.read, kind: read, domain: feeds, target: eventual}
phases:
  - name: likes
    ops: [post.like]
    steps:
      - dual_write: {hold: 3s}
      - shadow: {sample: 5%, gates: [manual]}
      - eventual
  - name: feeds
    ops: [feed.read]
    steps: [dual_write, eventual]
)";

class PlanCliTest : public ::testing::Test {
 protected:
  std::string WritePlan(const std::string& name, const std::string& text) {
    const std::string path = cli_.dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  static std::string Example(const char* name) {
    return std::string(CMO_SOURCE_DIR) + "/migrations/" + name;
  }
  // Applies kFastPlan without its dual_write hold and runs it until post.like is in shadow.
  void ApplyAndRunToShadow() {
    std::string text = kFastPlan;
    text.replace(text.find("hold: 3s"), 8, "hold: 0s");
    cli_.Ok({"plan", "apply", WritePlan("fast.yaml", text), "--reason", "go"});
    cli_.Ok({"plan", "run", "--once"});
    cli_.Ok({"plan", "run", "--once"});
    ASSERT_EQ(StatusOf("post.like")["stage"], "shadow");
  }
  nlohmann::json StatusOf(const std::string& op) {
    for (const auto& s : cli_.Json({"plan", "status"})) {
      if (s["op"] == op) return s;
    }
    return nullptr;
  }
  ::cmo::testing::CmoCli cli_;
};

TEST_F(PlanCliTest, ExamplesValidateWithASummary) {
  const std::string out =
      cli_.Ok({"plan", "validate", Example("social-network.yaml"), Example("e-commerce.yaml")});
  EXPECT_THAT(out, HasSubstr("social-network.yaml: valid"));
  EXPECT_THAT(out, HasSubstr("phase feeds-and-likes: feed.read, post.like, like.count"));
  EXPECT_THAT(out, HasSubstr("e-commerce.yaml: valid"));
  nlohmann::json j = cli_.Json({"plan", "validate", Example("e-commerce.yaml")});
  EXPECT_EQ(j[0]["valid"], true);
  EXPECT_EQ(j[0]["phases"][1]["name"], "cart");
}

TEST_F(PlanCliTest, EveryErrorOfEveryFileIsReported) {
  const std::string bad1 = WritePlan("bad1.yaml", "version: 1\nname: x\nphase: []\n");
  const std::string bad2 = WritePlan("bad2.yaml", "version: [\n");
  RunResult r = cli_.Run({"plan", "validate", bad1, Example("e-commerce.yaml"), bad2});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(bad1 + ":1:1: missing required key `operations`"));
  EXPECT_THAT(r.err,
              HasSubstr(bad1 + ":3:1: unknown key `phase` in the plan; did you mean `phases`?"));
  EXPECT_THAT(r.err, HasSubstr(bad2 + ":2:1: YAML syntax error"));
  EXPECT_THAT(r.out, HasSubstr("e-commerce.yaml: valid"));
  // Applying an invalid plan changes nothing, not even the state dir.
  RunResult apply = cli_.Run({"plan", "apply", bad1, "--reason", "r"});
  EXPECT_EQ(apply.exit_code, 2);
  EXPECT_THAT(apply.err, HasSubstr("nothing was applied"));
  EXPECT_FALSE(std::filesystem::exists(cli_.StateDir()));
}

TEST_F(PlanCliTest, ApplyRunStatusPauseResumeAndApprove) {
  const std::string plan = WritePlan("fast.yaml", kFastPlan);
  EXPECT_THAT(cli_.Ok({"plan", "apply", plan, "--reason", "go"}),
              HasSubstr("registered post.like, feed.read"));
  EXPECT_THAT(cli_.Ok({"plan", "apply", plan, "--reason", "go"}), HasSubstr("unchanged"));
  nlohmann::json s = StatusOf("feed.read");
  EXPECT_EQ(s["state"], "waiting for phase likes");

  cli_.Ok({"plan", "run", "--once"});
  s = StatusOf("post.like");
  EXPECT_EQ(s["stage"], "dual_write");
  EXPECT_EQ(s["step"], 1);
  EXPECT_EQ(s["steps"], 3);
  EXPECT_EQ(s["hold_ms"], 3000);

  // The dual_write step has no manual gate: advance explains instead of acting.
  RunResult adv = cli_.Run({"advance", "post.like", "--reason", "hurry"});
  EXPECT_EQ(adv.exit_code, 2);
  EXPECT_THAT(adv.err, HasSubstr("has no manual gate"));

  cli_.Ok({"pause", "post.like", "--reason", "investigating"});
  EXPECT_EQ(StatusOf("post.like")["paused"], true);
  EXPECT_THAT(StatusOf("post.like")["state"].get<std::string>(), HasSubstr("investigating"));
  cli_.Ok({"resume", "--all", "--reason", "done"});
  EXPECT_EQ(StatusOf("post.like")["paused"], false);
  RunResult both = cli_.Run({"pause", "post.like", "--all", "--reason", "x"});
  EXPECT_EQ(both.exit_code, 2);

  nlohmann::json history = cli_.Json({"history", "post.like"});
  EXPECT_EQ(history[0]["action"], "plan.resume");
  EXPECT_EQ(history[1]["action"], "plan.pause");
  EXPECT_EQ(history[1]["reason"], "investigating");
  EXPECT_EQ(history[2]["action"], "plan.step");
  EXPECT_EQ(history[2]["actor"], "plan:fast");
}

TEST_F(PlanCliTest, ManualGateWaitsForAnOperator) {
  ApplyAndRunToShadow();
  nlohmann::json s = StatusOf("post.like");
  EXPECT_EQ(s["gates"][0]["condition"], "manual");
  EXPECT_EQ(s["gates"][0]["holds"], false);
  EXPECT_EQ(s["gates"][0]["verdict"], "fail");  // manual: an operator's no, not missing data
  cli_.Ok({"plan", "run", "--once"});
  EXPECT_EQ(StatusOf("post.like")["stage"], "shadow");
  EXPECT_THAT(cli_.Ok({"advance", "post.like", "--reason", "shadow is clean"}),
              HasSubstr("approved step 2"));
  cli_.Ok({"plan", "run", "--once"});
  cli_.Ok({"plan", "run", "--once"});
  // Approved, but no client of post.like has reported: no evidence is not health.
  EXPECT_EQ(StatusOf("post.like")["stage"], "shadow");
  EXPECT_THAT(StatusOf("post.like")["state"].get<std::string>(),
              HasSubstr("waiting for live telemetry"));
  {
    // What the control loop writes when a client's telemetry for the op arrives.
    auto db = base::SqliteDb::Open(cli_.StateDir() + "/control.db");
    ASSERT_TRUE(db.ok());
    auto stmt = (*db)->Prepare(
        "INSERT INTO metrics (op, metric, value, at_ms) VALUES ('post.like', "
        "'telemetry_windows', 3, ?1)");
    ASSERT_TRUE(stmt.ok());
    base::Statement::Scope q(**stmt);
    q->Bind(1, absl::ToUnixMillis(absl::Now()));
    ASSERT_TRUE(q->Run().ok());
  }
  cli_.Ok({"plan", "run", "--once"});
  EXPECT_EQ(StatusOf("post.like")["stage"], "eventual");
  EXPECT_EQ(StatusOf("post.like")["state"], "done");
}

TEST_F(PlanCliTest, RollbackByHandPausesThePlanAndResumeRealigns) {
  ApplyAndRunToShadow();
  cli_.Ok({"rollback", "post.like", "--to", "dual_write", "--reason", "INC-7"});
  cli_.Ok({"plan", "run", "--once"});
  nlohmann::json s = StatusOf("post.like");
  EXPECT_EQ(s["stage"], "dual_write");  // the executor did not undo the operator's rollback
  EXPECT_EQ(s["paused"], true);
  EXPECT_THAT(s["state"].get<std::string>(), HasSubstr("flag changed outside the plan"));
  cli_.Ok({"resume", "post.like", "--reason", "INC-7 closed"});
  s = StatusOf("post.like");
  EXPECT_EQ(s["step"], 1);  // realigned to the dual_write step
  EXPECT_EQ(s["paused"], false);
  cli_.Ok({"plan", "run", "--once"});
  cli_.Ok({"plan", "run", "--once"});
  EXPECT_EQ(StatusOf("post.like")["stage"], "shadow");
}

TEST_F(PlanCliTest, ChangingAMigratingPlanNeedsForce) {
  const std::string plan = WritePlan("fast.yaml", kFastPlan);
  cli_.Ok({"plan", "apply", plan, "--reason", "go"});
  cli_.Ok({"plan", "run", "--once"});
  std::string text = kFastPlan;
  text.replace(text.find("sample: 5%"), 10, "sample: 9%");
  WritePlan("fast.yaml", text);
  RunResult r = cli_.Run({"plan", "apply", plan, "--reason", "tweak"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("re-run with --force"));
  EXPECT_THAT(cli_.Ok({"plan", "apply", plan, "--reason", "tweak", "--force"}),
              HasSubstr("replanned mid-migration: post.like"));
  EXPECT_EQ(cli_.Json({"history", "plan:fast"})[0]["action"], "plan.replace.forced");
}

// kill -9 of the executor in the middle of a hold: the restarted executor keeps the persisted
// hold clock, so the step advances at held_since + hold, not restart + hold.
TEST_F(PlanCliTest, KilledExecutorResumesWithTheSameHoldClock) {
  const std::string plan = WritePlan("fast.yaml", kFastPlan);
  cli_.Ok({"plan", "apply", plan, "--reason", "go"});
  const std::vector<std::string> run = {CMO_BINARY, "--state-dir", cli_.StateDir(), "plan",
                                        "run",      "--interval",  "50ms"};
  int64_t held_since = 0;
  {
    ::cmo::testing::Child first(run);
    ASSERT_TRUE(::cmo::testing::WaitFor(
        [&] {
          nlohmann::json s = StatusOf("post.like");
          if (s.is_null() || s["held_since_ms"].is_null()) return false;
          held_since = s["held_since_ms"].get<int64_t>();
          return true;
        },
        std::chrono::seconds(10)));
    // Kill it 1.5 s into the 3 s hold.
    ASSERT_TRUE(
        ::cmo::testing::WaitFor([&] { return ::cmo::testing::WallMillis() >= held_since + 1500; },
                                std::chrono::seconds(10)));
    first.Kill(SIGKILL);
    EXPECT_EQ(first.Wait(), -SIGKILL);
  }
  nlohmann::json s = StatusOf("post.like");
  EXPECT_EQ(s["step"], 1);
  EXPECT_EQ(s["held_since_ms"], held_since);

  ::cmo::testing::Child second(run);
  ASSERT_TRUE(::cmo::testing::WaitFor([&] { return StatusOf("post.like")["step"] == 2; },
                                      std::chrono::seconds(10)));
  second.Kill(SIGTERM);
  EXPECT_EQ(second.Wait(), 0);  // a clean stop on SIGTERM

  auto db = base::SqliteDb::Open(cli_.StateDir() + "/control.db");
  ASSERT_TRUE(db.ok());
  auto stmt = (*db)->Prepare(
      "SELECT at_ms FROM audit WHERE action = 'plan.step' AND reason LIKE '%step 2/3%'");
  ASSERT_TRUE(stmt.ok());
  base::Statement::Scope q(**stmt);
  ASSERT_TRUE(*q->Step());
  const int64_t advanced_at = q->ColumnInt(0);
  // Restarted at >= held_since + 1.5 s: a reset clock would advance at >= held_since + 4.5 s.
  EXPECT_GE(advanced_at - held_since, 3000);
  EXPECT_LT(advanced_at - held_since, 4000);
}

}  // namespace
}  // namespace cmo
