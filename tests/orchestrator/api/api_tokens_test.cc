// The role every route of the HTTP API needs, and token names.
#include "orchestrator/api/internal/api_tokens.h"

#include "gtest/gtest.h"

namespace cmo::orchestrator::api_internal {
namespace {

TEST(RequiredRole, EveryRouteOfTheApi) {
  struct Case {
    const char* method;
    const char* path;
    Role need;
  };
  const Case cases[] = {
      // Open: health, metrics, the page, flag/plan/breaker/replication state.
      {"GET", "/", Role::kNone},
      {"GET", "/healthz", Role::kNone},
      {"GET", "/readyz", Role::kNone},
      {"GET", "/metrics", Role::kNone},
      {"GET", "/v1/ops", Role::kNone},
      {"GET", "/v1/ops/post.like", Role::kNone},
      {"GET", "/v1/ops/post.like/budget", Role::kNone},
      {"GET", "/v1/plans", Role::kNone},
      {"GET", "/v1/breakers", Role::kNone},
      {"GET", "/v1/settings", Role::kNone},
      {"GET", "/v1/reconcile", Role::kNone},
      {"GET", "/v1/status", Role::kNone},
      {"GET", "/v1/leader", Role::kNone},
      {"GET", "/v1/nothing", Role::kNone},  // a 404
      // User-level reads.
      {"GET", "/v1/divergence", Role::kViewer},
      {"GET", "/v1/divergence?user=u-1", Role::kViewer},
      {"GET", "/v1/audit", Role::kViewer},
      {"GET", "/v1/overrides", Role::kViewer},
      {"GET", "/v1/tiers", Role::kViewer},
      {"GET", "/v1/ops/post.like/decide", Role::kViewer},
      {"GET", "/v1/ops/post.like/decide?subject=u-1", Role::kViewer},
      {"POST", "/ofrep/v1/evaluate/flags/post.like", Role::kViewer},
      {"POST", "/ofrep/v1/evaluate/flags", Role::kViewer},
      // Operating a migration.
      {"POST", "/v1/ops/post.like/advance", Role::kOperator},
      {"POST", "/v1/ops/post.like/ramp", Role::kOperator},
      {"POST", "/v1/ops/post.like/rollback", Role::kOperator},
      {"POST", "/v1/ops/post.like/pause", Role::kOperator},
      {"POST", "/v1/ops/*/resume", Role::kOperator},
      {"POST", "/v1/breakers/post.like/reset", Role::kOperator},
      {"POST", "/v1/reconcile", Role::kOperator},
      {"POST", "/v1/overrides", Role::kOperator},
      {"POST", "/v1/overrides/3/remove", Role::kOperator},
      {"POST", "/v1/reconcile/likes/eu-west/pause", Role::kOperator},
      {"POST", "/v1/reconcile/likes/eu-west/throttle", Role::kOperator},
      {"POST", "/v1/reconcile/likes/gc", Role::kOperator},
      // Defining it, its safety limits, and who may do what.
      {"POST", "/v1/ops", Role::kAdmin},
      {"POST", "/v1/plans", Role::kAdmin},
      {"POST", "/v1/settings", Role::kAdmin},
      {"POST", "/v1/tokens", Role::kAdmin},
      {"POST", "/v1/tokens/ci/revoke", Role::kAdmin},
      {"GET", "/v1/tokens", Role::kAdmin},
      // Anything else that is not a read.
      {"POST", "/v1/ops/post.like/unknown", Role::kAdmin},
      {"POST", "/v2/anything", Role::kAdmin},
      {"DELETE", "/v1/ops/post.like", Role::kAdmin},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RoleName(RequiredRole(c.method, c.path)), RoleName(c.need))
        << c.method << " " << c.path;
  }
}

TEST(Roles, ParseAndOrder) {
  EXPECT_EQ(ParseRole("viewer"), Role::kViewer);
  EXPECT_EQ(ParseRole("operator"), Role::kOperator);
  EXPECT_EQ(ParseRole("admin"), Role::kAdmin);
  EXPECT_FALSE(ParseRole("none").has_value());  // not a role a token can have
  EXPECT_FALSE(ParseRole("Admin").has_value());
  EXPECT_LT(Role::kViewer, Role::kOperator);
  EXPECT_LT(Role::kOperator, Role::kAdmin);
}

TEST(Roles, TokenNames) {
  for (const char* ok : {"ci", "ci-deployer", "support.desk_1", "0ps"}) {
    EXPECT_TRUE(CheckTokenName(ok).ok()) << ok;
  }
  for (const char* bad : {"", "-x", ".x", "CI", "a b", "a/b", "é"}) {
    EXPECT_FALSE(CheckTokenName(bad).ok()) << bad;
  }
  EXPECT_FALSE(CheckTokenName(std::string(65, 'a')).ok());
  EXPECT_TRUE(CheckTokenName(std::string(64, 'a')).ok());
}

}  // namespace
}  // namespace cmo::orchestrator::api_internal
