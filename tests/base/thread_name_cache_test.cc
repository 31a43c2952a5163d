#include "base/thread_name_cache.h"

#include <thread>

#include "gtest/gtest.h"

namespace cmo::base {
namespace {

struct TestTag;
using Cache = ThreadNameCache<TestTag, int>;

TEST(ThreadNameCacheTest, FindsWhatWasPutForTheSameOwnerAndName) {
  int a = 1, b = 2;
  Cache::Put(1, "likes", &a);
  Cache::Put(1, "comments", &b);
  EXPECT_EQ(Cache::Find(1, "likes"), &a);
  EXPECT_EQ(Cache::Find(1, "comments"), &b);
  EXPECT_EQ(Cache::Find(2, "likes"), nullptr);  // another owner (a newer client) never matches
  EXPECT_EQ(Cache::Find(1, "like"), nullptr);
  EXPECT_EQ(Cache::Find(1, "likes2"), nullptr);
}

TEST(ThreadNameCacheTest, RemembersEveryNameNotOnlyTheLast) {
  int v[20] = {};
  for (int i = 0; i < 20; ++i) Cache::Put(10, std::to_string(i), &v[i]);
  for (int round = 0; round < 2; ++round) {  // cycling through more names than a few
    for (int i = 0; i < 20; ++i) EXPECT_EQ(Cache::Find(10, std::to_string(i)), &v[i]) << i;
  }
  int w = 0;
  Cache::Put(10, "3", &w);  // a name put again points at its new value
  EXPECT_EQ(Cache::Find(10, "3"), &w);
  EXPECT_EQ(Cache::Find(10, "4"), &v[4]);
  EXPECT_EQ(Cache::Find(10, "3"), &w);
}

TEST(ThreadNameCacheTest, StaysBoundedByDroppingEverythingWhenFull) {
  int v = 0;
  for (size_t i = 0; i <= Cache::kMaxEntries; ++i) Cache::Put(30 + i, "op", &v);
  EXPECT_EQ(Cache::Find(30 + Cache::kMaxEntries, "op"), &v);  // the newest is kept
  EXPECT_EQ(Cache::Find(31, "op"), nullptr);                  // the oldest were dropped
}

TEST(ThreadNameCacheTest, EachThreadHasItsOwnEntries) {
  int a = 1;
  Cache::Put(20, "feed", &a);
  int* seen_elsewhere = &a;
  std::thread([&] { seen_elsewhere = Cache::Find(20, "feed"); }).join();
  EXPECT_EQ(seen_elsewhere, nullptr);
  EXPECT_EQ(Cache::Find(20, "feed"), &a);
}

}  // namespace
}  // namespace cmo::base
