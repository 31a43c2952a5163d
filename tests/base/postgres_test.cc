// The libpq wrapper against a real, throwaway PostgreSQL server (initdb in a temp dir, own
// port): bound parameters, NULLs, error codes chosen by what the caller should do next, a
// server that goes away and comes back, and passwords never shown.
#include "base/postgres.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/pg_server.h"

namespace cmo::base {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::PgServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  std::unique_ptr<PgConnection> Connect() {
    auto c = PgConnection::Connect(server_->Uri());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  std::unique_ptr<testing::PgServer> server_;
};

TEST_F(PostgresTest, BoundParametersRoundTripIncludingNullsAndQuotes) {
  auto c = Connect();
  ASSERT_TRUE(c->ExecScript("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT, n BIGINT)").ok());
  const std::string tricky = "it's \"quoted\"; DROP TABLE t; -- ünïcode";
  ASSERT_TRUE(c->Exec("INSERT INTO t VALUES ($1, $2, $3)", {"a", tricky, "42"}).ok());
  ASSERT_TRUE(c->Exec("INSERT INTO t VALUES ($1, $2, $3)", {"b", std::nullopt, "-7"}).ok());
  auto r = c->Exec("SELECT k, v, n FROM t ORDER BY k");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows(), 2);
  EXPECT_EQ(r->Text(0, 1), tricky);
  EXPECT_EQ(*r->Int(0, 2), 42);
  EXPECT_TRUE(r->IsNull(1, 1));
  EXPECT_EQ(*r->Int(1, 2), -7);
  EXPECT_EQ(r->Int(0, 0).status().code(), absl::StatusCode::kInternal);
  auto u = c->Exec("UPDATE t SET n = n + 1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->affected(), 2);
}

TEST_F(PostgresTest, ErrorCodesSayWhatToDoNext) {
  auto a = Connect();
  auto b = Connect();
  ASSERT_TRUE(a->ExecScript("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT); "
                            "INSERT INTO t VALUES ('x', 0)")
                  .ok());
  EXPECT_EQ(a->Exec("INSERT INTO t VALUES ('x', 1)").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(a->Exec("SELEC 1").status().code(), absl::StatusCode::kInternal);
  // A concurrent update under REPEATABLE READ: the whole transaction must be retried.
  ASSERT_TRUE(a->ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT n FROM t").ok());
  ASSERT_TRUE(b->Exec("UPDATE t SET n = n + 1 WHERE k = 'x'").ok());
  EXPECT_EQ(a->Exec("UPDATE t SET n = n + 1 WHERE k = 'x'").status().code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(a->ExecScript("ROLLBACK").ok());
}

TEST_F(PostgresTest, UnreachableAndMalformedUrisAreClear) {
  auto bad = PgConnection::Connect("postgresql://cmo:s3cret@127.0.0.1:1/db?connect_timeout=2");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("postgresql://cmo:***@127.0.0.1:1"));
  EXPECT_THAT(std::string(bad.status().message()), Not(HasSubstr("s3cret")));
  EXPECT_EQ(RedactPgUri("postgresql://cmo@h:5/db?sslmode=disable&password=s3cret&x=1"),
            "postgresql://cmo@h:5/db?sslmode=disable&password=***&x=1");
  EXPECT_EQ(RedactPgUri("postgresql://h/db?password=s3cret"), "postgresql://h/db?password=***");
  EXPECT_EQ(RedactPgUri("postgresql://u:p@h/db"), "postgresql://u:***@h/db");
  auto malformed = PgConnection::Connect("postgresql://h/db?no_such_option=1");
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PostgresTest, AServerThatGoesAwayIsUnavailableAndComesBack) {
  auto c = Connect();
  ASSERT_TRUE(c->ExecScript("CREATE TABLE t (n BIGINT); INSERT INTO t VALUES (1)").ok());
  server_->Stop();
  EXPECT_EQ(c->Exec("SELECT n FROM t").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(c->ok());
  ASSERT_TRUE(server_->Restart().ok());
  auto again = Connect();
  auto r = again->Exec("SELECT n FROM t");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r->Int(0, 0), 1) << "committed data survived the restart";
}

// A crash (immediate shutdown) or a backend terminated by an operator: both are kUnavailable,
// in plain statements and in pipelines, so callers retry instead of giving up.
TEST_F(PostgresTest, CrashesAndTerminatedBackendsAreUnavailable) {
  auto c = Connect();
  auto killer = Connect();
  auto pid = c->Exec("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok());
  ASSERT_TRUE(killer->Exec("SELECT pg_terminate_backend($1)", {std::string(pid->Text(0, 0))}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto r = c->Exec("SELECT value FROM pg_settings WHERE name = $1", {std::string("port")});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_FALSE(c->ok());
  auto p = Connect();
  server_->Crash();
  auto piped = p->ExecPipeline({{"BEGIN", {}}, {"SELECT $1::int", {std::string("1")}}});
  EXPECT_EQ(piped.status().code(), absl::StatusCode::kUnavailable) << piped.status();
  EXPECT_FALSE(p->ok());
  ASSERT_TRUE(server_->Restart().ok());
  auto again = Connect();
  auto ok =
      again->ExecPipeline({{"BEGIN", {}}, {"SELECT $1::int", {std::string("7")}}, {"COMMIT", {}}});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*(*ok)[1].Int(0, 0), 7);
  // A failing statement: its error, the rest skipped, the connection still usable.
  auto bad = again->ExecPipeline({{"BEGIN", {}}, {"SELECT 1/0", {}}, {"SELECT 2", {}}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("division by zero"));
  EXPECT_TRUE(again->ExecScript("ROLLBACK").ok());
  EXPECT_TRUE(again->ok());
}

// The scheme store/README.md chooses for commit order = LSN order on a server database: the LSN
// counter is one row, and taking LSNs updates it, so the row lock is held to commit and a second
// writer's LSNs wait for the first writer's commit. This checks the property the scheme rests
// on with two real connections.
TEST_F(PostgresTest, TheLsnCounterRowSerializesWritersUntilCommit) {
  auto a = Connect();
  auto b = Connect();
  ASSERT_TRUE(a->ExecScript("CREATE TABLE lsn (id INT PRIMARY KEY, last BIGINT NOT NULL); "
                            "INSERT INTO lsn VALUES (1, 0)")
                  .ok());
  ASSERT_TRUE(a->ExecScript("BEGIN").ok());
  auto first = a->Exec("UPDATE lsn SET last = last + 10 WHERE id = 1 RETURNING last");
  ASSERT_TRUE(first.ok());
  std::atomic<bool> b_done{false};
  int64_t b_lsn = 0;
  std::thread writer([&] {
    auto r = b->Exec("UPDATE lsn SET last = last + 5 WHERE id = 1 RETURNING last");
    if (r.ok()) b_lsn = *r->Int(0, 0);
    b_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(b_done.load()) << "the second writer waits for the first one's commit";
  ASSERT_TRUE(a->ExecScript("COMMIT").ok());
  writer.join();
  EXPECT_EQ(*first->Int(0, 0), 10);
  EXPECT_EQ(b_lsn, 15) << "LSNs are handed out in commit order";
}

}  // namespace
}  // namespace cmo::base
