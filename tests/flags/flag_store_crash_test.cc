// kill -9 of a real process in the middle of a flag change leaves the old or the new state,
// never a mix: flag rows, revision and audit log always agree.
#include <signal.h>

#include <optional>
#include <string>

#include "flags/flag_json.h"
#include "flags/flag_store.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"

namespace cmo::flags {
namespace {

// Every flag equals the "after" of its newest audit entry, and the global revision is the
// newest audit revision.
void ExpectConsistent(const std::string& db, int64_t expected_revision) {
  ::cmo::testing::FakeClock clock;
  auto store = FlagStore::Open(db, clock);
  ASSERT_TRUE(store.ok()) << store.status();
  auto revision = (*store)->Revision();
  ASSERT_TRUE(revision.ok());
  EXPECT_EQ(*revision, expected_revision);
  auto history = (*store)->History(std::nullopt, 1);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].revision, *revision);
  auto flags = (*store)->List();
  ASSERT_TRUE(flags.ok());
  for (const Flag& f : *flags) {
    auto mine = (*store)->History(std::string_view(f.op), 1);
    ASSERT_TRUE(mine.ok());
    ASSERT_EQ(mine->size(), 1u);
    EXPECT_EQ((*mine)[0].revision, f.revision) << f.op;
    EXPECT_EQ((*mine)[0].after, FlagToJson(f)) << f.op;
  }
}

// Reads "R n" lines until `stop` returns true for a line; returns the last revision seen.
int64_t LastCommitted(::cmo::testing::Child& child, std::optional<std::string>* stop_line,
                      int max_commits) {
  int64_t last = 0;
  for (int i = 0;; ++i) {
    std::optional<std::string> line = child.ReadLine();
    if (!line.has_value()) break;
    if (line->starts_with("R ")) {
      last = std::stoll(line->substr(2));
      if (max_commits > 0 && i + 1 >= max_commits) break;
    } else {
      *stop_line = line;
      break;
    }
  }
  return last;
}

TEST(FlagStoreCrash, KillInsideTheTransactionKeepsTheOldState) {
  ::cmo::testing::TempDir dir;
  const std::string db = dir.File("control.db");
  int64_t committed = 3;  // add + two advances by the first child
  for (int round = 0; round < 5; ++round) {
    ::cmo::testing::Child child({CMO_CRASH_CHILD, db, "pause", std::to_string(round * 3)});
    std::optional<std::string> stop_line;
    const int64_t last = LastCommitted(child, &stop_line, /*max_commits=*/0);
    ASSERT_EQ(stop_line, std::optional<std::string>("M")) << "child never reached the hook";
    if (last > 0) committed = last;
    child.Kill(SIGKILL);
    EXPECT_EQ(child.Wait(), -SIGKILL);
    // The in-flight change (flag row written, audit not) must have vanished.
    ExpectConsistent(db, committed);
  }
}

TEST(FlagStoreCrash, KillAtArbitraryPointsNeverLeavesAMix) {
  ::cmo::testing::TempDir dir;
  const std::string db = dir.File("control.db");
  for (int round = 0; round < 8; ++round) {
    ::cmo::testing::Child child({CMO_CRASH_CHILD, db, "run"});
    std::optional<std::string> stop_line;
    // Let it commit a varying number of changes, then kill it wherever it is.
    const int64_t last = LastCommitted(child, &stop_line, /*max_commits=*/1 + round * 7);
    ASSERT_GT(last, 0);
    child.Kill(SIGKILL);
    EXPECT_EQ(child.Wait(), -SIGKILL);
    ::cmo::testing::FakeClock clock;
    auto store = FlagStore::Open(db, clock);
    ASSERT_TRUE(store.ok());
    auto revision = (*store)->Revision();
    ASSERT_TRUE(revision.ok());
    // It may have committed a few more after the line we read, never fewer.
    EXPECT_GE(*revision, last);
    store->reset();
    ExpectConsistent(db, *revision);
  }
}

}  // namespace
}  // namespace cmo::flags
