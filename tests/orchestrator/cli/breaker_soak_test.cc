// Soak runs behind the `slow` label (ctest -L slow); CI's default run leaves them out.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/cmo_cli.h"

namespace cmo {
namespace {

// The soak: a healthy run of more than two minutes under the same load never trips.
// Label `slow` (not in CI's default run): ctest -L slow.
TEST(BenchSoak, NoTripInAHealthyRunOfTwoMinutes) {
  ::cmo::testing::CmoCli cli;
  nlohmann::json r = cli.Json(
      {"bench", "breaker", "--trips", "1", "--healthy-seconds", "125", "--work-dir", cli.dir()});
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["false_trips"], 0);
  EXPECT_EQ(r["trips"], 1);
}

}  // namespace
}  // namespace cmo
