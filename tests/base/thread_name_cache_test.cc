#include "base/thread_name_cache.h"

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace cmo::base {
namespace {

struct TestTag;
using Cache = ThreadNameCache<TestTag, int>;

// The value found, or -1 when there is none.
int ValueOf(uint64_t owner, std::string_view name) {
  const int* v = Cache::Find(owner, name);
  return v == nullptr ? -1 : *v;
}

TEST(ThreadNameCacheTest, FindsWhatWasPutForTheSameOwnerAndName) {
  Cache::Put(1, "likes", 1);
  Cache::Put(1, "comments", 2);
  EXPECT_EQ(ValueOf(1, "likes"), 1);
  EXPECT_EQ(ValueOf(1, "comments"), 2);
  EXPECT_EQ(ValueOf(2, "likes"), -1);  // another owner (a newer client) never matches
  EXPECT_EQ(ValueOf(1, "like"), -1);
  EXPECT_EQ(ValueOf(1, "likes2"), -1);
}

TEST(ThreadNameCacheTest, RemembersEveryNameNotOnlyTheLast) {
  for (int i = 0; i < 20; ++i) Cache::Put(10, std::to_string(i), 100 + i);
  for (int round = 0; round < 2; ++round) {  // cycling through more names than a few
    for (int i = 0; i < 20; ++i) EXPECT_EQ(ValueOf(10, std::to_string(i)), 100 + i) << i;
  }
  Cache::Put(10, "3", 7);  // a name put again has its new value
  EXPECT_EQ(ValueOf(10, "3"), 7);
  EXPECT_EQ(ValueOf(10, "4"), 104);
  EXPECT_EQ(ValueOf(10, "3"), 7);
}

TEST(ThreadNameCacheTest, ValuesAreTheThreadsToChangeAndStayPutWhileTheCacheGrows) {
  int* memo = Cache::Put(40, "feed", 0);
  for (int i = 0; i < 500; ++i) Cache::Put(41, std::to_string(i), i);  // rehashes many times
  EXPECT_EQ(Cache::Find(40, "feed"), memo);
  *memo = 5;  // what a thread memoizes for (owner, name)
  EXPECT_EQ(ValueOf(40, "feed"), 5);
}

TEST(ThreadNameCacheTest, StaysBoundedByDroppingEverythingWhenFull) {
  for (size_t i = 0; i <= Cache::kMaxEntries; ++i) Cache::Put(30 + i, "op", 1);
  EXPECT_EQ(ValueOf(30 + Cache::kMaxEntries, "op"), 1);  // the newest is kept
  EXPECT_EQ(ValueOf(31, "op"), -1);                      // the oldest were dropped
}

TEST(ThreadNameCacheTest, EachThreadHasItsOwnEntries) {
  Cache::Put(20, "feed", 1);
  int seen_elsewhere = 0;
  std::thread([&] { seen_elsewhere = ValueOf(20, "feed"); }).join();
  EXPECT_EQ(seen_elsewhere, -1);
  EXPECT_EQ(ValueOf(20, "feed"), 1);
}

}  // namespace
}  // namespace cmo::base
