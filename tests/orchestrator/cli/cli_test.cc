// The operator CLI, exercised through the real `cmo` binary as operators and scripts use it.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/cmo_cli.h"

namespace cmo {
namespace {

using ::cmo::testing::RunResult;
using ::testing::HasSubstr;
using ::testing::Not;

class CliTest : public ::testing::Test {
 protected:
  RunResult Cmo(std::vector<std::string> args) { return cli_.Run(std::move(args)); }
  std::string Ok(std::vector<std::string> args) { return cli_.Ok(std::move(args)); }
  nlohmann::json Json(std::vector<std::string> args) { return cli_.Json(std::move(args)); }

  // Registers post.like (standard, eventual target) and payment.transfer (critical).
  void Seed() {
    Ok({"ops", "add", "post.like", "--domain", "likes", "--target", "eventual"});
    Ok({"ops", "add", "payment.transfer", "--domain", "payments", "--class", "critical", "--target",
        "strong"});
  }

  // Compares with tests/orchestrator/cli/golden/NAME; CMO_UPDATE_GOLDEN=1 rewrites the file.
  void ExpectGolden(const std::string& name, const std::string& actual) {
    const std::string path = std::string(CMO_SOURCE_DIR) + "/tests/orchestrator/cli/golden/" + name;
    if (std::getenv("CMO_UPDATE_GOLDEN") != nullptr) {
      std::ofstream(path) << actual;
      return;
    }
    std::ifstream in(path);
    std::stringstream expected;
    expected << in.rdbuf();
    EXPECT_EQ(actual, expected.str()) << "golden file " << path;
  }

  ::cmo::testing::CmoCli cli_;
};

TEST_F(CliTest, HelpOnEveryCommand) {
  RunResult top = Cmo({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const char* sub : {"ops", "advance", "ramp", "rollback", "decide", "history", "plan",
                          "pause", "resume", "serve", "bench"}) {
    EXPECT_THAT(top.out, HasSubstr(sub));
  }
  const std::vector<std::vector<std::string>> commands = {{"ops"},           {"ops", "list"},
                                                          {"ops", "add"},    {"advance"},
                                                          {"ramp"},          {"rollback"},
                                                          {"decide"},        {"history"},
                                                          {"plan"},          {"plan", "validate"},
                                                          {"plan", "apply"}, {"plan", "status"},
                                                          {"plan", "run"},   {"pause"},
                                                          {"resume"},        {"serve"},
                                                          {"bench"},         {"bench", "pipeline"}};
  for (std::vector<std::string> cmd : commands) {
    cmd.push_back("--help");
    RunResult r = Cmo(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[0];
    EXPECT_THAT(r.out, HasSubstr("Usage")) << cmd[0];
  }
}

TEST_F(CliTest, MissingStateDirIsInvalidInput) {
  RunResult r = Cmo({"ops", "list"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("does not exist; check --state-dir"));
}

TEST_F(CliTest, WalksAnOpThroughEveryStage) {
  Seed();
  Ok({"advance", "post.like", "--reason", "dual-write on"});
  Ok({"advance", "post.like", "--sample", "5%", "--reason", "shadow"});
  Ok({"ramp", "post.like", "--to", "10", "--reason", "r", "--confirm"});
  Ok({"ramp", "post.like", "--to", "0.5%", "--reason", "r"});  // toward strong: never limited
  nlohmann::json ops = Json({"ops", "list"});
  ASSERT_TRUE(ops.is_array());
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[1]["op"], "post.like");
  EXPECT_EQ(ops[1]["stage"], "ramp");
  EXPECT_DOUBLE_EQ(ops[1]["percent"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(ops[1]["shadow_sample_percent"].get<double>(), 5.0);
  Ok({"ramp", "post.like", "--to", "100%", "--reason", "r", "--confirm"});
  Ok({"advance", "post.like", "--reason", "done"});
  ops = Json({"ops", "list"});
  EXPECT_EQ(ops[1]["stage"], "eventual");
  EXPECT_DOUBLE_EQ(ops[1]["percent"].get<double>(), 100.0);

  Ok({"rollback", "post.like", "--reason", "incident 42"});
  ops = Json({"ops", "list"});
  EXPECT_EQ(ops[1]["stage"], "shadow");
  EXPECT_DOUBLE_EQ(ops[1]["percent"].get<double>(), 0.0);

  nlohmann::json history = Json({"history", "post.like"});
  ASSERT_EQ(history.size(), 10u);  // two confirmed moves beyond the step limit, audited as such
  EXPECT_EQ(history[0]["action"], "rollback");
  EXPECT_EQ(history[0]["actor"], "alice");
  EXPECT_EQ(history[0]["reason"], "incident 42");
  EXPECT_EQ(history[0]["before"]["stage"], "eventual");
  EXPECT_EQ(history[0]["after"]["stage"], "shadow");
}

// Each bad command exits 2 with one line naming the problem, and changes nothing.
TEST_F(CliTest, BadInputExits2AndChangesNothing) {
  Seed();
  Ok({"advance", "post.like", "--reason", "r"});
  const std::string ops_before = Ok({"ops", "list", "--output", "json"});
  const std::string history_before = Ok({"history", "--output", "json"});
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"ramp", "post.like", "--to", "150%", "--reason", "r"}, "out of range"},
      {{"ramp", "post.like", "--to=-1", "--reason", "r"}, "\"-1\" is not a percentage"},
      {{"ramp", "post.like", "--to", "ten", "--reason", "r"}, "\"ten\" is not a percentage"},
      {{"ramp", "nope", "--to", "5", "--reason", "r"}, "unknown op \"nope\""},
      {{"ramp", "post.like", "--to", "5", "--reason", "r"},
       "ramp works only from shadow or ramp — run `cmo advance post.like` first"},
      {{"rollback", "post.like", "--to", "ramp", "--reason", "r"}, "rollback goes backwards"},
      {{"rollback", "post.like", "--to", "sideways", "--reason", "r"}, "unknown stage"},
      {{"ramp", "payment.transfer", "--to", "5", "--reason", "r"}, "critical and stays strong"},
      {{"advance", "payment.transfer", "--reason", "r"}, "critical and stays strong"},
      {{"advance", "post.like", "--to", "5", "--reason", "r"}, "--to applies only"},
      {{"decide", "nope", "user-1"}, "unknown op"},
      {{"history", "nope"}, "unknown op"},
      {{"ops", "add", "post.like", "--domain", "likes", "--target", "eventual"},
       "already registered"},
      {{"ops", "add", "x.y", "--domain", "d", "--target", "linearizable"}, "unknown target model"},
      {{"ops", "add", "x.y", "--domain", "d", "--class", "critical", "--target", "causal"},
       "must target strong"},
  };
  for (const Case& c : cases) {
    RunResult r = Cmo(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << " " << c.args[1];
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.args[0] << " " << c.args[1];
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("cmo: error: "));
  }
  // CLI11's own parse errors follow the same contract: exit 2.
  EXPECT_EQ(Cmo({"ramp", "post.like", "--reason", "r"}).exit_code, 2);  // --to missing
  EXPECT_EQ(Cmo({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Cmo({"ops", "list", "--output", "yaml"}).exit_code, 2);
  EXPECT_EQ(Ok({"ops", "list", "--output", "json"}), ops_before);
  EXPECT_EQ(Ok({"history", "--output", "json"}), history_before);
}

// With --output json every error is also on stdout, in one shape: the API's error body plus
// the exit code, whatever failed (the command, the parser, the connection).
TEST_F(CliTest, ErrorsHonourOutputJson) {
  Seed();
  const std::vector<std::vector<std::string>> failing = {
      {"ramp", "nope", "--to", "5", "--reason", "r"},  // 2: input
      {"ramp", "post.like", "--reason", "r"},          // 2: CLI11, --to missing
      {"decide", "nope", "user-1"},                    // 2: unknown op
      {"--server", "127.0.0.1:1", "ops", "list"},      // 3: unreachable
      {"ops", "add", "post.like", "--domain", "likes", "--target", "eventual"},  // 2: exists
  };
  for (std::vector<std::string> args : failing) {
    args.insert(args.end(), {"--output", "json"});
    RunResult r = Cmo(args);
    EXPECT_NE(r.exit_code, 0);
    const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << args[0] << ": " << r.out;
    EXPECT_TRUE(j["error"]["code"].is_string()) << r.out;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty()) << r.out;
    EXPECT_EQ(j["error"]["exit_code"], r.exit_code) << r.out;
    EXPECT_FALSE(r.err.empty()) << "the human line stays on stderr";
  }
  // Table output keeps stdout clean of errors.
  EXPECT_EQ(Cmo({"decide", "nope", "user-1"}).out, "");
}

TEST_F(CliTest, DecideExplainsThePath) {
  Seed();
  Ok({"advance", "post.like", "--reason", "r"});
  Ok({"advance", "post.like", "--reason", "r"});
  Ok({"ramp", "post.like", "--to", "10%", "--reason", "r", "--confirm"});
  nlohmann::json d = Json({"decide", "post.like", "user-42"});
  // Bucket of (likes, user-42): see tests/flags/testdata/bucketing_golden.tsv.
  EXPECT_EQ(d["bucket"], 8167);
  EXPECT_EQ(d["threshold"], 1000);
  EXPECT_EQ(d["path"], "strong");
  EXPECT_EQ(d["stage"], "ramp");
  ExpectGolden("decide_user_42.txt", Ok({"decide", "post.like", "user-42"}));
  // user-1 is in bucket 4648: eventual at 50%, strong again after lowering to 40%.
  Ok({"ramp", "post.like", "--to", "50", "--reason", "r", "--confirm"});
  EXPECT_EQ(Json({"decide", "post.like", "user-1"})["path"], "eventual");
  Ok({"ramp", "post.like", "--to", "40", "--reason", "r"});
  EXPECT_EQ(Json({"decide", "post.like", "user-1"})["path"], "strong");
  nlohmann::json critical = Json({"decide", "payment.transfer", "user-1"});
  EXPECT_EQ(critical["path"], "strong");
  EXPECT_EQ(critical["why"], "critical op: always strong");
}

// A plan's tiers route: `cmo decide` says which tier applied, how the subject got in it (list,
// rule over --context, heavy writers) and what it gets, before and after the tier's join_at.
TEST_F(CliTest, DecideExplainsTiersWithTheRequestContext) {
  // feed.read is in no phase, so an operator moves it by hand below.
  const std::string plan = cli_.StateDir() + "-tiny.yaml";
  std::ofstream(plan) << R"(
version: 1
name: tiny
tiers:
  - name: super_users
    subjects: [celebrity-1]
    when: ["followers >= 100000"]
    target: bounded_staleness(1s)
    priority: true
operations:
  - {op: feed.read, kind: read, domain: feeds, target: eventual, tiers: [super_users]}
  - {op: post.like, kind: write, domain: likes, target: eventual}
phases:
  - {name: likes, ops: [post.like], steps: [eventual]}
)";
  Ok({"plan", "apply", plan, "--reason", "r"});
  nlohmann::json tiers = Json({"tiers"});
  ASSERT_EQ(tiers.size(), 1u);
  EXPECT_EQ(tiers[0]["ops"], nlohmann::json::array({"feed.read"}));
  EXPECT_THAT(Ok({"tiers"}), HasSubstr("priority channel  1 listed; followers >= 100000"));
  EXPECT_EQ(tiers[0]["priority"], true);
  nlohmann::json listed = Json({"decide", "feed.read", "celebrity-1"});
  EXPECT_EQ(listed["tier"]["name"], "super_users");
  EXPECT_EQ(listed["tier"]["via"], "list");
  EXPECT_EQ(listed["tier"]["held_strong"], true);
  EXPECT_EQ(listed["target"], "bounded_staleness(1s)");
  EXPECT_EQ(listed["path"], "strong");
  nlohmann::json plain = Json({"decide", "feed.read", "user-7"});
  EXPECT_TRUE(plain["tier"].is_null());
  EXPECT_EQ(plain["target"], "eventual");
  nlohmann::json fan =
      Json({"decide", "feed.read", "user-7", "--context", "followers=250000", "--context",
            "country=br"});
  EXPECT_EQ(fan["tier"]["via"], "rule");
  EXPECT_EQ(fan["tier"]["rule"], "followers >= 100000");
  EXPECT_EQ(fan["context"]["country"], "br");
  const std::string text = Ok({"decide", "feed.read", "user-7", "--context", "followers=250000"});
  EXPECT_THAT(text, HasSubstr("in tier super_users of plan tiny (its rule "
                              "`followers >= 100000` matches): held strong until the op "
                              "reaches eventual"));
  EXPECT_TRUE(Json({"decide", "feed.read", "user-7", "--context", "followers=99"})["tier"]
                  .is_null());
  // Once the op is eventual the member reads eventual, with the tier's bound.
  for (int i = 0; i < 9; ++i) Ok({"advance", "feed.read", "--reason", "r", "--confirm"});
  nlohmann::json after = Json({"decide", "feed.read", "celebrity-1"});
  EXPECT_EQ(after["stage"], "eventual");
  EXPECT_EQ(after["path"], "eventual");
  EXPECT_EQ(after["tier"]["held_strong"], false);
  EXPECT_EQ(after["target"], "bounded_staleness(1s)");
  RunResult bad = Cmo({"decide", "feed.read", "user-7", "--context", "followers"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("give NAME=VALUE"));
}

TEST_F(CliTest, DryRunShowsTheMoveAndChangesNothing) {
  Seed();
  Ok({"advance", "post.like", "--reason", "r"});
  Ok({"advance", "post.like", "--reason", "r"});
  const std::string before = Ok({"ops", "list", "--output", "json"});
  const std::string out = Ok({"ramp", "post.like", "--to", "10%", "--reason", "r", "--dry-run"});
  ExpectGolden("ramp_dry_run.txt", out);
  nlohmann::json j = Json({"advance", "post.like", "--to", "25", "--reason", "r", "--dry-run"});
  EXPECT_EQ(j["dry_run"], true);
  EXPECT_EQ(j["changed"], false);
  EXPECT_EQ(j["would_change"], true);
  EXPECT_EQ(j["beyond_step_limit"], true);  // 25% from shadow: one step is 1%
  EXPECT_EQ(j["needs_confirm"], true);
  EXPECT_DOUBLE_EQ(j["moving_percent"].get<double>(), 25.0);
  EXPECT_EQ(j["direction"], "to_eventual");
  EXPECT_EQ(j["after"]["stage"], "ramp");
  EXPECT_EQ(Ok({"ops", "list", "--output", "json"}), before);
}

TEST_F(CliTest, OpsListTable) {
  Seed();
  Ok({"ops", "add", "profile.read", "--domain", "profiles", "--target", "bounded_staleness(2s)"});
  Ok({"advance", "post.like", "--reason", "r"});
  ExpectGolden("ops_list.txt", Ok({"ops", "list"}));
}

// An operator command moves at most one step toward eventual (default: the next of
// 1/5/10/25/50/100%) unless confirmed; `advance` from a partial ramp never jumps to 100%.
TEST_F(CliTest, StepsTowardEventualAreBoundedUnlessConfirmed) {
  Seed();
  Ok({"advance", "post.like", "--reason", "r"});
  Ok({"advance", "post.like", "--reason", "r"});
  RunResult r = Cmo({"ramp", "post.like", "--to", "50%", "--reason", "hurry"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("one command may take it to 1%"));
  EXPECT_THAT(r.err, HasSubstr("--confirm"));
  EXPECT_EQ(Json({"ops", "list"})[1]["stage"], "shadow");  // nothing moved
  Ok({"advance", "post.like", "--reason", "r"});
  for (double want : {5.0, 10.0, 25.0}) {
    Ok({"advance", "post.like", "--reason", "r"});
    EXPECT_DOUBLE_EQ(Json({"ops", "list"})[1]["percent"].get<double>(), want);
  }
  Ok({"settings", "set", "max_step", "30%", "--reason", "faster ramps for likes"});
  EXPECT_EQ(Json({"settings"})["max_step"], "30%");
  Ok({"ramp", "post.like", "--to", "55%", "--reason", "r"});  // 25% + 30%
  r = Cmo({"ramp", "post.like", "--to", "90%", "--reason", "r"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("(max_step 30%)"));
  Ok({"ramp", "post.like", "--to", "90%", "--reason", "r", "--confirm"});
  nlohmann::json h = Json({"history", "post.like"});
  EXPECT_EQ(h[0]["action"], "step_limit.confirmed");
  EXPECT_EQ(h[1]["action"], "ramp");
  const RunResult bad = Cmo({"settings", "set", "max_step", "lots", "--reason", "r"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("max_step must be `standard`"));
}

TEST_F(CliTest, RepeatedRampIsANoOp) {
  Seed();
  Ok({"advance", "post.like", "--reason", "r"});
  Ok({"advance", "post.like", "--reason", "r"});
  Ok({"ramp", "post.like", "--to", "1", "--reason", "r"});
  const std::string out = Ok({"ramp", "post.like", "--to", "1%", "--reason", "again"});
  EXPECT_THAT(out, HasSubstr("unchanged"));
  EXPECT_EQ(Json({"history", "post.like"}).size(), 4u);
}

// The CLI aborted (134) on non-UTF-8 arguments; they would have reached the audit log.
TEST_F(CliTest, NonUtf8ArgumentsAreInvalidInput) {
  Seed();
  const RunResult r = Cmo({"pause", "post.like", "--reason", "bad \xff\xfe reason"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("not valid UTF-8"));
  EXPECT_THAT(Ok({"history", "--output", "json"}), Not(HasSubstr("bad ")));
}

// `cmo plan validate /dev/zero` read 273 MB before its 1 MiB check.
TEST_F(CliTest, PlanFilesAreReadNoFurtherThanTheLimit) {
  const RunResult r = Cmo({"plan", "validate", "/dev/zero"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("/dev/zero:1:1: the plan is larger than 1048576 bytes"));
}

// One grammar for names: a domain that cannot be a topic name is refused where it enters.
TEST_F(CliTest, DomainsFollowTheNameGrammar) {
  const RunResult r =
      Cmo({"ops", "add", "post.like", "--domain", "Likes; DROP", "--target", "eventual"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("domain \"Likes; DROP\" may contain only lowercase letters"));
}

}  // namespace
}  // namespace cmo
