// Hot items (amplification guards) on the wire and in a client: bounded, extended never
// shortened, forgotten when their window ends.
#include "shadow/hot_items.h"

#include <string>

#include "gtest/gtest.h"

namespace cmo::shadow {
namespace {

TEST(HotItem, RoundTripsAndRefusesWhatIsNotOneOrTooLarge) {
  HotItem h{"comments", "c-9", absl::FromUnixMillis(1764950430123), "comment.create"};
  auto back = DecodeHotItem(EncodeHotItem(h));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, h);
  HotItem big = h;
  big.key.assign(2000, 'k');
  EXPECT_FALSE(DecodeHotItem(EncodeHotItem(big)).ok());
  for (const char* bad : {"", "{}", "{\"v\":1,\"domain\":\"\",\"key\":\"k\",\"until_ms\":1}",
                          "{\"v\":1,\"domain\":\"d\",\"until_ms\":1}"}) {
    EXPECT_FALSE(DecodeHotItem(bad).ok()) << bad;
  }
}

TEST(HotItems, MarkExtendsExpiresAndStopsAtTheBound) {
  HotItems hot;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_FALSE(hot.Hot("d", "k", t0));
  EXPECT_TRUE(hot.Mark("d", "k", t0 + absl::Seconds(10), t0));
  EXPECT_TRUE(hot.Mark("d", "k", t0 + absl::Seconds(5), t0));  // never shortens
  EXPECT_TRUE(hot.Hot("d", "k", t0 + absl::Seconds(9)));
  EXPECT_FALSE(hot.Hot("d", "other", t0));
  EXPECT_FALSE(hot.Hot("e", "k", t0)) << "another domain";
  EXPECT_FALSE(hot.Hot("d", "k", t0 + absl::Seconds(10)));
  hot.Prune(t0 + absl::Seconds(11));
  EXPECT_EQ(hot.size(), 0);
  for (int i = 0; i < kMaxHotItems; ++i) {
    ASSERT_TRUE(hot.Mark("d", std::to_string(i), t0 + absl::Seconds(10), t0));
  }
  EXPECT_FALSE(hot.Mark("d", "one-more", t0 + absl::Seconds(10), t0));
  // Once the window passes, room again.
  EXPECT_TRUE(hot.Mark("d", "one-more", t0 + absl::Seconds(30), t0 + absl::Seconds(20)));
  EXPECT_EQ(hot.size(), 1);
}

}  // namespace
}  // namespace cmo::shadow
