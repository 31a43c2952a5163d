#include "base/sqlite.h"

#include <sys/wait.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/temp_dir.h"
#include "tests/status_matchers.h"

namespace cmo::base {
namespace {

using ::cmo::testing::IsOk;
using ::cmo::testing::StatusIs;
using ::testing::HasSubstr;

class SqliteTest : public ::testing::Test {
 protected:
  ::cmo::testing::TempDir dir_;
  std::string path_ = dir_.File("t.db");
};

int64_t CountRows(SqliteDb& db) {
  auto stmt = db.Prepare("SELECT count(*) FROM t");
  EXPECT_TRUE(stmt.ok());
  Statement::Scope s(**stmt);
  EXPECT_THAT(s->Step(), ::cmo::testing::IsOkAndHolds(true));
  return s->ColumnInt(0);
}

TEST_F(SqliteTest, MigratesOnceAndRemembersTheVersion) {
  const std::vector<std::string_view> steps = {"CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER);",
                                               "ALTER TABLE t ADD COLUMN w INTEGER;"};
  {
    auto db = SqliteDb::Open(path_);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Migrate("t", steps), IsOk());
    EXPECT_THAT((*db)->SchemaVersion("t"), ::cmo::testing::IsOkAndHolds(2));
  }
  auto db = SqliteDb::Open(path_);
  ASSERT_THAT(db, IsOk());
  // Re-running is a no-op (ALTER would fail if step 2 ran again).
  ASSERT_THAT((*db)->Migrate("t", steps), IsOk());
  EXPECT_THAT((*db)->SchemaVersion("t"), ::cmo::testing::IsOkAndHolds(2));
  // Another component in the same database has its own version.
  ASSERT_THAT((*db)->Migrate("other", {"CREATE TABLE o (x);"}), IsOk());
  EXPECT_THAT((*db)->SchemaVersion("other"), ::cmo::testing::IsOkAndHolds(1));
  EXPECT_THAT((*db)->SchemaVersion("t"), ::cmo::testing::IsOkAndHolds(2));
}

TEST_F(SqliteTest, RefusesADatabaseFromANewerBinary) {
  {
    auto db = SqliteDb::Open(path_);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Migrate("t", {"CREATE TABLE a (x);", "CREATE TABLE b (x);"}), IsOk());
  }
  auto db = SqliteDb::Open(path_);
  ASSERT_THAT(db, IsOk());
  EXPECT_THAT((*db)->Migrate("t", {"CREATE TABLE a (x);"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("upgrade cmo")));
}

TEST_F(SqliteTest, UncommittedTransactionRollsBack) {
  auto db = SqliteDb::Open(path_);
  ASSERT_THAT(db, IsOk());
  ASSERT_THAT((*db)->Migrate("t", {"CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER);"}), IsOk());
  {
    auto txn = WriteTransaction::Begin(**db);
    ASSERT_THAT(txn, IsOk());
    auto stmt = (*db)->Prepare("INSERT INTO t (k, v) VALUES (?1, ?2)");
    ASSERT_THAT(stmt, IsOk());
    Statement::Scope s(**stmt);
    s->Bind(1, std::string_view("a")).Bind(2, int64_t{1});
    ASSERT_THAT(s->Run(), IsOk());
  }  // no Commit()
  EXPECT_EQ(CountRows(**db), 0);
  {
    auto txn = WriteTransaction::Begin(**db);
    ASSERT_THAT(txn, IsOk());
    auto stmt = (*db)->Prepare("INSERT INTO t (k, v) VALUES (?1, ?2)");
    Statement::Scope s(**stmt);
    s->Bind(1, std::string_view("a")).Bind(2, int64_t{1});
    ASSERT_THAT(s->Run(), IsOk());
    ASSERT_THAT((*txn)->Commit(), IsOk());
  }
  EXPECT_EQ(CountRows(**db), 1);
}

TEST_F(SqliteTest, ConstraintViolationIsAlreadyExists) {
  auto db = SqliteDb::Open(path_);
  ASSERT_THAT(db, IsOk());
  ASSERT_THAT((*db)->Migrate("t", {"CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER);"}), IsOk());
  auto stmt = (*db)->Prepare("INSERT INTO t (k, v) VALUES (?1, 1)");
  ASSERT_THAT(stmt, IsOk());
  for (int i = 0; i < 2; ++i) {
    Statement::Scope s(**stmt);
    s->Bind(1, std::string_view("same"));
    absl::Status st = s->Run();
    if (i == 0) {
      EXPECT_THAT(st, IsOk());
    } else {
      EXPECT_THAT(st, StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("UNIQUE")));
    }
  }
}

TEST_F(SqliteTest, MissingDirectoryIsAClearError) {
  auto db = SqliteDb::Open(dir_.File("no/such/dir/x.db"));
  EXPECT_THAT(db, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("state dir")));
}

// `cmo serve` and an app starting together on a fresh state dir: switching a new database to
// WAL needs it exclusively, and SQLite refuses at once rather than waiting. Every process must
// open it (this failed about once in 200 rounds before the retry).
TEST_F(SqliteTest, ProcessesOpeningANewDatabaseTogetherAllSucceed) {
  const std::vector<std::string_view> steps = {"CREATE TABLE t (k TEXT PRIMARY KEY);"};
  int failed = 0;
  for (int round = 0; round < 300; ++round) {
    const std::string path = dir_.File("race-" + std::to_string(round) + ".db");
    std::vector<pid_t> kids;
    for (int k = 0; k < 4; ++k) {
      const pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        auto db = SqliteDb::Open(path);
        _exit(db.ok() && (*db)->Migrate("t", steps).ok() ? 0 : 1);
      }
      kids.push_back(pid);
    }
    for (pid_t pid : kids) {
      int status = 0;
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
      failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
  }
  EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace cmo::base
