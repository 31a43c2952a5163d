// The HTTP API of `cmo serve`: bearer auth and roles (401/403 + audit entry), JSON errors
// with the codes the CLI maps to exit codes, size limits, /metrics, /healthz, /readyz, the
// dashboard page, and the CLI giving the same answers with --server as on the state dir.
#include <httplib.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "base/build_info.h"
#include "base/clock.h"
#include "base/message_auth.h"
#include "base/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/api/api_server.h"
#include "orchestrator/api/http_api.h"
#include "orchestrator/api/internal/http_parts.h"
#include "orchestrator/budget/breaker.h"
#include "orchestrator/service/control_state.h"
#include "tests/fakes/cmo_cli.h"
#include "tests/fakes/temp_dir.h"
#include "tests/fakes/tls_cert.h"

namespace cmo::orchestrator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server =
        ApiServer::Start({.listen = "127.0.0.1:0", .state_dir = state_}, base::SystemClock());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    std::ifstream in(TokenPath(state_));
    std::getline(in, token_);
    ASSERT_EQ(token_.size(), 64u);
    http_ = std::make_unique<httplib::Client>(server_->url());
  }

  std::unique_ptr<HttpApi> Api(const std::string& token) {
    auto api = HttpApi::Create(server_->url(), token);
    EXPECT_TRUE(api.ok()) << api.status();
    return *std::move(api);
  }

  absl::StatusOr<nlohmann::json> Post(const std::string& path, nlohmann::json body,
                                      const std::string& token) {
    return Api(token)->Call({"POST", path, {}, std::move(body), "alice"});
  }

  void AddLikes() {
    ASSERT_TRUE(
        Post("/v1/ops",
             {{"op", "post.like"}, {"domain", "likes"}, {"target", "eventual"}, {"reason", "r"}},
             token_)
            .ok());
  }

  // post.like through dual_write and shadow to ramp 25%.
  void LikesRampedTo25() {
    AddLikes();
    ASSERT_TRUE(Post("/v1/ops/post.like/advance", {{"reason", "a"}}, token_).ok());
    ASSERT_TRUE(Post("/v1/ops/post.like/advance", {{"reason", "b"}}, token_).ok());
    ASSERT_TRUE(
        Post("/v1/ops/post.like/ramp", {{"reason", "c"}, {"to", "25"}, {"confirm", true}}, token_)
            .ok());
  }

  testing::TempDir dir_;
  std::string state_ = dir_.File("state");
  std::string token_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> http_;
};

// OpenFeature remote evaluation answers what the client library decides, for every subject:
// the variant is the path, the metadata the bucket and threshold that chose it.
TEST_F(ApiTest, OfrepEvaluatesTheRoutingDecisionForASubject) {
  LikesRampedTo25();
  const httplib::Headers auth = {{"Authorization", "Bearer " + token_}};
  auto ofrep = [&](const std::string& path, const std::string& body) {
    auto r = http_->Post(path, auth, body, "application/json");
    EXPECT_TRUE(r) << path;
    return r;
  };
  int eventual = 0;
  for (int u = 0; u < 200; ++u) {
    const std::string subject = "user-" + std::to_string(u);
    auto r = ofrep("/ofrep/v1/evaluate/flags/post.like",
                   nlohmann::json{{"context", {{"targetingKey", subject}}}}.dump());
    ASSERT_EQ(r->status, 200) << r->body;
    const nlohmann::json got = nlohmann::json::parse(r->body);
    auto decide = Api(token_)->Call({"GET", "/v1/ops/post.like/decide", {{"subject", subject}}});
    ASSERT_TRUE(decide.ok()) << decide.status();
    EXPECT_EQ(got["key"], "post.like");
    EXPECT_EQ(got["value"], (*decide)["path"]) << subject;
    EXPECT_EQ(got["variant"], got["value"]);
    EXPECT_EQ(got["reason"], "SPLIT");
    EXPECT_EQ(got["cacheable"], false);
    EXPECT_EQ(got["metadata"]["bucket"], (*decide)["bucket"]);
    EXPECT_EQ(got["metadata"]["threshold"], 2500);
    EXPECT_EQ(got["metadata"]["stage"], "ramp");
    eventual += got["value"] == "eventual" ? 1 : 0;
  }
  EXPECT_GT(eventual, 20);  // about a quarter of 200
  EXPECT_LT(eventual, 80);

  auto unknown = ofrep("/ofrep/v1/evaluate/flags/post.nope", R"({"context":{"targetingKey":"u"}})");
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(nlohmann::json::parse(unknown->body)["errorCode"], "FLAG_NOT_FOUND");
  auto no_key = ofrep("/ofrep/v1/evaluate/flags/post.like", R"({"context":{}})");
  EXPECT_EQ(no_key->status, 400);
  EXPECT_EQ(nlohmann::json::parse(no_key->body)["errorCode"], "TARGETING_KEY_MISSING");
  auto garbage = ofrep("/ofrep/v1/evaluate/flags/post.like", "{not json");
  EXPECT_EQ(garbage->status, 400);
  EXPECT_EQ(nlohmann::json::parse(garbage->body)["errorCode"], "PARSE_ERROR");
  auto bad_context = ofrep("/ofrep/v1/evaluate/flags/post.like", R"({"context":[1]})");
  EXPECT_EQ(bad_context->status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad_context->body)["errorCode"], "INVALID_CONTEXT");

  // Bulk: every op; the same ETag until a flag changes.
  auto bulk = ofrep("/ofrep/v1/evaluate/flags", R"({"context":{"targetingKey":"user-7"}})");
  ASSERT_EQ(bulk->status, 200);
  const nlohmann::json flags = nlohmann::json::parse(bulk->body)["flags"];
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0]["key"], "post.like");
  const std::string etag = bulk->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  httplib::Headers if_none_match = {{"If-None-Match", etag}, *auth.begin()};
  auto same = http_->Post("/ofrep/v1/evaluate/flags", if_none_match,
                          R"({"context":{"targetingKey":"user-7"}})", "application/json");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 304);
  ASSERT_TRUE(Post("/v1/ops/post.like/rollback", {{"reason", "d"}}, token_).ok());
  auto changed = http_->Post("/ofrep/v1/evaluate/flags", if_none_match,
                             R"({"context":{"targetingKey":"user-7"}})", "application/json");
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->status, 200);
  EXPECT_EQ(nlohmann::json::parse(changed->body)["flags"][0]["value"], "strong");
  EXPECT_EQ(nlohmann::json::parse(changed->body)["flags"][0]["reason"], "STATIC");
}

TEST(MetricsText, SampleValuesKeepEveryDigit) {
  EXPECT_EQ(api_internal::SampleValue(1234567), "1234567");  // was 1.23457e+06
  EXPECT_EQ(api_internal::SampleValue(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(api_internal::SampleValue(0.25), "0.25");
  EXPECT_EQ(api_internal::SampleValue(0), "0");
  EXPECT_EQ(api_internal::SampleValue(-3), "-3");
  EXPECT_EQ(api_internal::SampleValue(std::nan("")), "NaN");
  EXPECT_EQ(api_internal::SampleValue(-HUGE_VAL), "-Inf");
}

TEST_F(ApiTest, TokenFileIsPrivate) {
  struct stat st {};
  ASSERT_EQ(::stat(TokenPath(state_).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(ApiTest, MutatingCallsNeedTheTokenAndFailuresAreAudited) {
  auto none =
      Post("/v1/ops", {{"op", "post.like"}, {"domain", "likes"}, {"target", "eventual"}}, "");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("Bearer"));
  auto wrong = Post("/v1/ops", {{"op", "post.like"}, {"domain", "likes"}, {"target", "eventual"}},
                    std::string(64, 'a'));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  auto ops = Api("")->Call({"GET", "/v1/ops"});  // reads need no token
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_TRUE(ops->empty()) << "a refused call changed nothing";
  // Refusals are audited off the server's I/O thread: wait for both entries.
  absl::StatusOr<nlohmann::json> audit;
  for (int i = 0; i < 200; ++i) {
    audit = Api(token_)->Call({"GET", "/v1/audit"});
    if (audit.ok() && audit->size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 2u);
  for (const nlohmann::json& e : *audit) {
    EXPECT_EQ(e["action"], "auth.denied");
    EXPECT_EQ(e["after"]["path"], "/v1/ops");
    EXPECT_THAT(e["actor"].get<std::string>(), HasSubstr("127.0.0.1"));
    EXPECT_THAT(e.dump(), Not(HasSubstr(token_)));
  }
  EXPECT_THAT((*audit)[0]["reason"].get<std::string>(),
              HasSubstr("unknown or revoked bearer token"));
  EXPECT_THAT((*audit)[1]["reason"].get<std::string>(), HasSubstr("no bearer token"));
}

// Named tokens over real HTTP: each role may do what it is for and no more; no or an unknown
// token is 401, a weak one 403; the holder is the audit actor; a revoked token is refused at
// once; the secret is shown once and stored only as its SHA-256.
TEST_F(ApiTest, EachRoleMayDoWhatItIsForAndNoMore) {
  LikesRampedTo25();
  std::map<std::string, std::string> secret;
  for (const char* role : {"viewer", "operator", "admin"}) {
    const std::string name = std::string(role) + "-1";
    auto made = Post("/v1/tokens", {{"name", name}, {"role", role}, {"reason", "r"}}, token_);
    ASSERT_TRUE(made.ok()) << made.status();
    EXPECT_EQ((*made)["role"], role);
    secret[role] = (*made)["secret"].get<std::string>();
    EXPECT_EQ(secret[role].size(), 64u);
  }
  auto code = [&](const std::string& method, const std::string& path, const std::string& token) {
    auto api = Api(token);
    absl::StatusOr<nlohmann::json> r =
        method == "GET" ? api->Call({"GET", path})
                        : api->Call({"POST", path, {}, {{"reason", "check"}}, "bob"});
    return HttpStatusFor(r.status().code());
  };
  const std::string v = secret["viewer"], o = secret["operator"], a = secret["admin"];
  // No token: flag state only.
  EXPECT_EQ(code("GET", "/v1/ops", ""), 200);
  EXPECT_EQ(code("GET", "/v1/divergence", ""), 401);
  EXPECT_EQ(code("GET", "/v1/audit", ""), 401);
  EXPECT_EQ(code("GET", "/v1/ops/post.like/decide?subject=u", ""), 401);
  EXPECT_EQ(code("POST", "/v1/ops/post.like/pause", ""), 401);
  EXPECT_EQ(code("GET", "/v1/overrides", ""), 401);
  EXPECT_EQ(code("GET", "/v1/divergence", std::string(64, 'f')), 401);
  // Viewer: user-level reads, nothing that changes.
  EXPECT_EQ(code("GET", "/v1/divergence", v), 200);
  EXPECT_EQ(code("GET", "/v1/audit", v), 200);
  auto ofrep = http_->Post("/ofrep/v1/evaluate/flags/post.like", {{"Authorization", "Bearer " + v}},
                           R"({"context":{"targetingKey":"u-1"}})", "application/json");
  ASSERT_TRUE(ofrep);
  EXPECT_EQ(ofrep->status, 200);
  EXPECT_EQ(code("POST", "/v1/ops/post.like/pause", v), 403);
  EXPECT_EQ(code("GET", "/v1/overrides", v), 200);
  EXPECT_EQ(code("POST", "/v1/overrides", v), 403);
  EXPECT_EQ(code("GET", "/v1/tokens", v), 403);
  // Operator: operates a migration, does not define one.
  EXPECT_EQ(code("POST", "/v1/ops/post.like/pause", o), 404);  // no plan drives it: past auth
  EXPECT_EQ(code("POST", "/v1/breakers/post.like/reset", o), 200);
  EXPECT_EQ(code("POST", "/v1/ops/post.like/rollback", o), 200);
  EXPECT_EQ(code("POST", "/v1/overrides", o), 400);  // no subject: past auth
  EXPECT_EQ(code("POST", "/v1/settings", o), 403);
  EXPECT_EQ(code("POST", "/v1/plans", o), 403);
  EXPECT_EQ(code("POST", "/v1/tokens", o), 403);
  // Admin: everything (a 400 here is the handler's: past the role check).
  EXPECT_EQ(code("POST", "/v1/settings", a), 400);
  EXPECT_EQ(code("GET", "/v1/tokens", a), 200);
  // The refusal says which role is needed.
  auto weak = Api(v)->Call({"POST", "/v1/ops/post.like/pause", {}, {{"reason", "x"}}});
  EXPECT_THAT(std::string(weak.status().message()), HasSubstr("needs operator"));
  // The holder is the actor; what the client says of itself is detail.
  auto last = Api(v)->Call({"GET", "/v1/audit", {{"op", "post.like"}, {"limit", "1"}}});
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ((*last)[0]["actor"], "operator-1 (bob)");
  // Support overrides: an operator sends a user strong, a viewer sees it in the decision.
  auto added = Post("/v1/overrides",
                    {{"subject", "u-9"},
                     {"op", "post.like"},
                     {"strong", true},
                     {"ttl", "2h"},
                     {"reason", "ticket 77"}},
                    o);
  ASSERT_TRUE(added.ok()) << added.status();
  auto decided = Api(v)->Call({"GET", "/v1/ops/post.like/decide", {{"subject", "u-9"}}});
  ASSERT_TRUE(decided.ok()) << decided.status();
  EXPECT_EQ((*decided)["path"], "strong");
  EXPECT_EQ((*decided)["override"]["id"], (*added)["id"]);
  EXPECT_EQ((*decided)["override"]["actor"], "operator-1 (alice)");
  EXPECT_THAT((*decided)["why"].get<std::string>(), HasSubstr("ticket 77"));
  // Listed without secrets; stored hashed.
  auto listed = Api(a)->Call({"GET", "/v1/tokens"});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 3u);
  std::string stored;
  for (const char* f : {"/control.db", "/control.db-wal"}) {
    std::ifstream in(state_ + f, std::ios::binary);
    stored += std::string(std::istreambuf_iterator<char>(in), {});
  }
  for (const auto& [role, s] : secret) {
    EXPECT_THAT(listed->dump(), Not(HasSubstr(s)));
    EXPECT_THAT(stored, Not(HasSubstr(s))) << role << "'s secret is stored as is";
    EXPECT_THAT(stored, HasSubstr(base::Sha256Hex(s)));
  }
  // Revoked: refused at once; the name is not reused.
  ASSERT_TRUE(Post("/v1/tokens/operator-1/revoke", {{"reason", "left"}}, a).ok());
  EXPECT_EQ(code("POST", "/v1/ops/post.like/pause", o), 401);
  auto again = Post("/v1/tokens", {{"name", "operator-1"}, {"role", "viewer"}, {"reason", "r"}}, a);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

// A flood of refused calls must not fill the audit log: 10 entries a minute per address, the
// rest counted.
TEST_F(ApiTest, RefusalsAreAuditedAtABoundedRate) {
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(Post("/v1/ops/x/pause", {{"reason", "r"}}, "").status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  absl::StatusOr<nlohmann::json> audit;
  for (int i = 0; i < 200; ++i) {
    audit = Api(token_)->Call({"GET", "/v1/audit", {{"limit", "100"}}});
    if (audit.ok() && audit->size() >= 10) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // any 11th would land by now
  audit = Api(token_)->Call({"GET", "/v1/audit", {{"limit", "100"}}});
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->size(), 10u) << "every refusal answered 401, only the first 10 logged";
}

TEST_F(ApiTest, OpsLifecycleOverHttp) {
  AddLikes();
  ASSERT_TRUE(Post("/v1/ops/post.like/advance", {{"reason", "dual"}}, token_).ok());
  ASSERT_TRUE(
      Post("/v1/ops/post.like/advance", {{"reason", "shadow"}, {"sample", "5%"}}, token_).ok());
  // 10% from shadow is beyond one step (1%): refused over HTTP too, unless confirmed.
  auto refused = Post("/v1/ops/post.like/ramp", {{"reason", "first"}, {"to", "10%"}}, token_);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("one command may take it to 1%"));
  auto ramp = Post("/v1/ops/post.like/ramp",
                   {{"reason", "first"}, {"to", "10%"}, {"confirm", true}}, token_);
  ASSERT_TRUE(ramp.ok()) << ramp.status();
  EXPECT_EQ((*ramp)["beyond_step_limit"], true);
  EXPECT_EQ((*ramp)["direction"], "to_eventual");
  EXPECT_DOUBLE_EQ((*ramp)["moving_percent"].get<double>(), 10.0);
  auto op = Api("")->Call({"GET", "/v1/ops/post.like"});
  ASSERT_TRUE(op.ok());
  EXPECT_EQ((*op)["stage"], "ramp");
  EXPECT_EQ((*op)["ramp_bp"], 1000);
  auto audit = Api(token_)->Call({"GET", "/v1/audit", {{"op", "post.like"}, {"limit", "1"}}});
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0]["actor"], "alice");
  EXPECT_EQ((*audit)[0]["reason"], "first");
  EXPECT_EQ((*audit)[0]["action"], "step_limit.confirmed");
  auto rb = Post("/v1/ops/post.like/rollback", {{"reason", "stale reads"}}, token_);
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ((*rb)["after"]["stage"], "shadow");
  auto decide = Api(token_)->Call({"GET", "/v1/ops/post.like/decide", {{"subject", "user-42"}}});
  ASSERT_TRUE(decide.ok()) << decide.status();
  EXPECT_EQ((*decide)["path"], "strong");
}

TEST_F(ApiTest, ErrorsAreJsonWithCodesThatMeanSomething) {
  ASSERT_TRUE(Post("/v1/ops",
                   {{"op", "payment.transfer"},
                    {"domain", "payments"},
                    {"class", "critical"},
                    {"target", "strong"},
                    {"reason", "r"}},
                   token_)
                  .ok());
  auto refused = Post("/v1/ops/payment.transfer/ramp", {{"reason", "oops"}, {"to", 5}}, token_);
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("critical"));
  EXPECT_EQ(Post("/v1/ops/nope/ramp", {{"reason", "r"}, {"to", 5}}, token_).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Post("/v1/ops/post.like/ramp", {{"to", 5}}, token_).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "reason is required";
  httplib::Headers auth = {{"Authorization", "Bearer " + token_}};
  auto bad = http_->Post("/v1/ops", auth, "{not json", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("\"message\""));
  auto big = http_->Post("/v1/ops", auth, std::string(2 << 20, 'x'), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_THAT(big->body, HasSubstr("larger than"));
  auto missing = http_->Get("/v2/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(nlohmann::json::parse(missing->body, nullptr, false).contains("error"));
  auto unknown = http_->Get("/v1/nothing");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("docs/API.md"));
}

TEST_F(ApiTest, MetricsHealthAndDashboard) {
  LikesRampedTo25();
  auto metrics = http_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->get_header_value("Content-Type"), HasSubstr("text/plain"));
  EXPECT_THAT(metrics->body, HasSubstr("# TYPE cmo_op_ramp_ratio gauge"));
  EXPECT_THAT(metrics->body, HasSubstr("cmo_op_ramp_ratio{op=\"post.like\"} 0.25\n"));
  EXPECT_THAT(metrics->body, HasSubstr("cmo_op_eventual_ratio{op=\"post.like\"} 0.25\n"));
  EXPECT_THAT(metrics->body, Not(HasSubstr("percent")));
  EXPECT_THAT(metrics->body, HasSubstr("cmo_breaker_state{op=\"post.like\"} 0\n"));
  EXPECT_THAT(metrics->body, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(metrics->body, HasSubstr("# TYPE process_resident_memory_bytes gauge\n"));
  EXPECT_THAT(metrics->body, HasSubstr("cmo_op_stage{op=\"post.like\",domain=\"likes\"} 3\n"));
  EXPECT_THAT(metrics->body, HasSubstr("cmo_op_stage_info{op=\"post.like\",domain=\"likes\","
                                       "stage=\"ramp\"} 1\n"));
  for (const char* path : {"/healthz", "/readyz"}) {
    auto r = http_->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
  }
  auto page = http_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("<title>cmo"));
  EXPECT_THAT(page->body, Not(HasSubstr("https://"))) << "no external assets";
}

// SLIs reach Prometheus in base units (the budget's ppm as ratios, its ms as seconds); one
// without enough evidence exports only cmo_sli_enough_data 0. JSON times are RFC 3339.
TEST_F(ApiTest, SlisInBaseUnitsAndTimesInRfc3339) {
  AddLikes();
  {
    auto state = OpenControlState(state_, false, base::SystemClock());
    ASSERT_TRUE(state.ok()) << state.status();
    auto breakers = BreakerStore::Open((*state)->flags->db());
    ASSERT_TRUE(breakers.ok());
    const nlohmann::json status = {{"slis",
                                    {{{"name", "stale_read_ratio"},
                                      {"unit", "ppm"},
                                      {"enough_data", true},
                                      {"short", 2500},
                                      {"long", 1000},
                                      {"burn_short", 0.5},
                                      {"burn_long", 0.2},
                                      {"remaining", 0.9}},
                                     {{"name", "replication_lag_p99"},
                                      {"unit", "ms"},
                                      {"enough_data", true},
                                      {"short", 1500},
                                      {"long", 750}},
                                     {{"name", "divergence_ratio"},
                                      {"unit", "ppm"},
                                      {"enough_data", false},
                                      {"short", 0},
                                      {"long", 0}}}}};
    ASSERT_TRUE((*breakers)->PutStatus("post.like", absl::Now(), status.dump()).ok());
  }
  auto metrics = http_->Get("/metrics");
  ASSERT_TRUE(metrics);
  const std::string& body = metrics->body;
  EXPECT_THAT(body, HasSubstr("cmo_sli{op=\"post.like\",sli=\"stale_read_ratio\",window=\"short\"} "
                              "0.0025\n"));
  EXPECT_THAT(body, HasSubstr("cmo_sli{op=\"post.like\",sli=\"replication_lag_p99\","
                              "window=\"long\"} 0.75\n"));
  EXPECT_THAT(body,
              HasSubstr("cmo_sli_enough_data{op=\"post.like\",sli=\"divergence_ratio\"} 0\n"));
  EXPECT_THAT(body, Not(HasSubstr("sli=\"divergence_ratio\",window")));
  EXPECT_THAT(body, Not(HasSubstr("unit=")));
  // Times in JSON are RFC 3339 (the epoch-ms fields stay for scripts that read them).
  const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  auto budget = Api("")->Call({"GET", "/v1/ops/post.like/budget"});
  ASSERT_TRUE(budget.ok()) << budget.status();
  EXPECT_TRUE(std::regex_match((*budget)["evaluated"].get<std::string>(), rfc3339));
  auto breakers = Api("")->Call({"GET", "/v1/breakers"});
  ASSERT_TRUE(breakers.ok()) << breakers.status();
  EXPECT_TRUE(std::regex_match((*breakers)[0]["since"].get<std::string>(), rfc3339));
}

// The API's own requests: counted by method and status (early refusals included), handler
// time as a histogram, and which build answers.
TEST_F(ApiTest, RequestsAndBuildAreMetrics) {
  LikesRampedTo25();                                // 4 POSTs answered 200
  ASSERT_EQ(http_->Get("/v1/audit")->status, 401);  // refused before any handler
  ASSERT_EQ(http_->Get("/v1/nothing")->status, 404);
  ASSERT_EQ(http_->Get("/healthz")->status, 200);  // answered on the I/O thread
  auto metrics = http_->Get("/metrics");
  ASSERT_TRUE(metrics);
  const std::string& body = metrics->body;
  EXPECT_THAT(body, HasSubstr("# TYPE cmo_http_requests_total counter\n"));
  EXPECT_THAT(body, HasSubstr("cmo_http_requests_total{method=\"POST\",code=\"200\"} 4\n"));
  EXPECT_THAT(body, HasSubstr("cmo_http_requests_total{method=\"GET\",code=\"401\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("cmo_http_requests_total{method=\"GET\",code=\"404\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("cmo_http_requests_total{method=\"GET\",code=\"200\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("# TYPE cmo_http_request_duration_seconds histogram\n"));
  // Handlers on workers: the 4 POSTs and the 404 (this scrape is counted after it renders).
  EXPECT_THAT(body, HasSubstr("cmo_http_request_duration_seconds_bucket{le=\"+Inf\"} 5\n"));
  EXPECT_THAT(body, HasSubstr("cmo_http_request_duration_seconds_count 5\n"));
  EXPECT_THAT(body, HasSubstr("cmo_http_request_duration_seconds_bucket{le=\"0.001\"} "));
  EXPECT_THAT(body, HasSubstr(base::StrCat("cmo_build_info{version=\"", base::BuildVersion(),
                                           "\",revision=\"", base::BuildRevision(), "\"} 1\n")));
  EXPECT_NE(base::BuildVersion(), "unknown");
}

TEST_F(ApiTest, CliGivesTheSameAnswersWithServer) {
  testing::CmoCli cli;  // its own (empty) state dir: with --server it must not be used
  const std::string url = server_->url();
  const std::vector<std::string> remote = {"--server", url, "--token-file", TokenPath(state_)};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), remote.begin(), remote.end());
    return args;
  };
  cli.Ok(with({"ops", "add", "post.like", "--domain", "likes", "--target", "eventual"}));
  cli.Ok(with({"advance", "post.like", "--reason", "dual-write"}));
  cli.Ok(with({"advance", "post.like", "--reason", "shadow"}));
  EXPECT_THAT(cli.Ok(with({"ramp", "post.like", "--to", "1", "--reason", "x"})),
              HasSubstr("moved 1% of subjects"));
  EXPECT_FALSE(std::filesystem::exists(cli.StateDir())) << "--server must not touch a state dir";
  // A refusal keeps its exit code across the wire.
  const auto r = cli.Run(with({"ramp", "nope", "--to", "5", "--reason", "x"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("nope"));
  // Without a token the CLI is refused (3 is for unreachable; 401 is a failure).
  const auto denied = cli.Run({"rollback", "post.like", "--reason", "x", "--server", url});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.err, HasSubstr("Bearer"));
  // Same JSON as the state dir gives directly.
  const auto remote_ops = cli.Json(with({"ops", "list"}));
  const auto direct =
      ::cmo::testing::Run({CMO_BINARY, "--state-dir", state_, "ops", "list", "--output", "json"});
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  EXPECT_EQ(remote_ops, nlohmann::json::parse(direct.out));
  EXPECT_THAT(cli.Ok(with({"history", "post.like"})), HasSubstr("dual-write"));
  EXPECT_THAT(cli.Ok(with({"reconcile", "gc", "--domain", "likes", "--grace", "1d"})),
              HasSubstr("primary: 0 tombstone(s) of likes older than 1d collected"));
  const auto no_job = cli.Run(with({"reconcile", "pause", "--domain", "likes", "--region", "x"}));
  EXPECT_EQ(no_job.exit_code, 2) << no_job.err;
  const auto local_only = cli.Run(with({"reconcile", "verify", "--domain", "likes"}));
  EXPECT_EQ(local_only.exit_code, 2);
  EXPECT_THAT(local_only.err, HasSubstr("local state dir only"));
  const auto down = cli.Run({"ops", "list", "--server", "127.0.0.1:1"});
  EXPECT_EQ(down.exit_code, 3);
  EXPECT_THAT(down.err, HasSubstr("unreachable"));
}

TEST(ApiServerStart, PortInUseIsAClearError) {
  testing::TempDir dir;
  auto first =
      ApiServer::Start({.listen = "127.0.0.1:0", .state_dir = dir.File("a")}, base::SystemClock());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string port = (*first)->url().substr((*first)->url().rfind(':') + 1);
  auto second = ApiServer::Start({.listen = "127.0.0.1:" + port, .state_dir = dir.File("b")},
                                 base::SystemClock());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("port is in use"));
  auto bad =
      ApiServer::Start({.listen = "localhost", .state_dir = dir.File("c")}, base::SystemClock());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

// Tokens never cross a network in clear text by default: plain HTTP beyond loopback is
// refused unless told --insecure; with a certificate the API is HTTPS end to end, and the CLI
// verifies it (a CA it does not trust is an error that says what to pass).
TEST(ApiTls, PlainHttpBeyondLoopbackIsRefusedAndHttpsIsVerified) {
  testing::TempDir dir;
  const std::string state = dir.File("state");
  auto plain = ApiServer::Start({.listen = "0.0.0.0:0", .state_dir = state}, base::SystemClock());
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plain.status().message()), HasSubstr("--insecure"));
  auto insecure = ApiServer::Start({.listen = "0.0.0.0:0", .state_dir = state, .insecure = true},
                                   base::SystemClock());
  ASSERT_TRUE(insecure.ok()) << insecure.status();
  (*insecure)->Stop();
  const std::string cert = dir.File("cert.pem"), key = dir.File("key.pem");
  ASSERT_TRUE(testing::WriteSelfSignedCert(cert, key).ok());
  auto tls = ApiServer::Start({.listen = "127.0.0.1:0", .state_dir = state, .tls = {cert, key}},
                              base::SystemClock());
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ((*tls)->url().rfind("https://127.0.0.1:", 0), 0u) << (*tls)->url();
  std::string token;
  std::getline(std::ifstream(TokenPath(state)), token);
  auto trusted = HttpApi::Create((*tls)->url(), token, absl::Seconds(10), cert);
  ASSERT_TRUE(trusted.ok());
  auto added = (*trusted)->Call({"POST",
                                 "/v1/ops",
                                 {},
                                 {{"op", "post.like"},
                                  {"domain", "likes"},
                                  {"target", "eventual"},
                                  {"reason", "over https"}}});
  EXPECT_TRUE(added.ok()) << added.status();
  auto untrusted = HttpApi::Create((*tls)->url(), token);
  ASSERT_TRUE(untrusted.ok());
  auto refused = (*untrusted)->Call({"GET", "/v1/ops"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("--tls-ca-file"));
  // The CLI the same way.
  testing::CmoCli cli;
  const std::vector<std::string> remote = {"--server", (*tls)->url(), "--token-file",
                                           TokenPath(state)};
  std::vector<std::string> list = {"ops", "list", "--tls-ca-file", cert};
  list.insert(list.end(), remote.begin(), remote.end());
  EXPECT_THAT(cli.Ok(list), HasSubstr("post.like"));
  std::vector<std::string> no_ca = {"ops", "list"};
  no_ca.insert(no_ca.end(), remote.begin(), remote.end());
  testing::RunResult r = cli.Run(no_ca);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("not trusted"));
}

}  // namespace
}  // namespace cmo::orchestrator
