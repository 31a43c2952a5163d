// The cmo.converged mark on the wire: it round-trips, and anything else is refused, not read.
#include "shadow/converged.h"

#include "gtest/gtest.h"

namespace cmo::shadow {
namespace {

TEST(ConvergedMark, RoundTripsAndRefusesWhatIsNotOne) {
  ConvergedMark m{
      8812, absl::FromUnixMillis(1764950400123), {{"eu-west", 8830}, {"us-east", 8812}}};
  auto back = DecodeConverged(EncodeConverged(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, m);
  for (const char* bad : {"", "[]", "{\"v\":2,\"lsn\":1,\"at_ms\":1}", "{\"v\":1,\"at_ms\":1}",
                          "{\"v\":1,\"lsn\":-5,\"at_ms\":1}", "{\"v\":1,\"lsn\":\"x\",\"at_ms\":1}",
                          "{\"v\":1,\"lsn\":1,\"at_ms\":1,\"regions\":[1]}"}) {
    EXPECT_FALSE(DecodeConverged(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace cmo::shadow
