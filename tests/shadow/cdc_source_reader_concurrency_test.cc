// The client's strong path for CDC-fed domains (CdcSourceReader) shared by request threads: its
// connection pool and the table descriptions it caches on first use, while the app writes the
// table (run under ThreadSanitizer in CI; needs PostgreSQL's binaries, as every `postgres` test).
#include <atomic>
#include <thread>
#include <vector>

#include "base/postgres.h"
#include "gtest/gtest.h"
#include "shadow/cdc_source_reader.h"
#include "tests/fakes/pg_server.h"

namespace cmo::shadow {
namespace {

TEST(CdcSourceReaderConcurrencyTest, RequestThreadsShareOneReader) {
  auto pg = ::cmo::testing::PgServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto db = base::PgConnection::Connect((*pg)->Uri());
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)
                  ->ExecScript("CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, tag text);"
                               "CREATE TABLE f (a int, b int, PRIMARY KEY (a, b));"
                               "INSERT INTO t SELECT g, 0, 'x' FROM generate_series(1, 50) g;"
                               "INSERT INTO f VALUES (1, 2)")
                  .ok());
  CdcSourceReader reader((*pg)->Uri(), {{"things", "public.t", {"id"}, "tag"},
                                        {"follows", "public.f", {"a", "b"}, ""}});
  std::atomic<bool> stop{false};
  std::thread app([&] {
    for (int i = 0; !stop.load(); ++i) {
      (void)(*db)->Exec("UPDATE t SET n = n + 1 WHERE id = $1", {std::to_string(i % 50 + 1)});
    }
  });
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      int64_t last_lsn = 0;
      for (int i = 0; i < 200; ++i) {
        auto r = (i + t) % 5 == 0 ? reader.Get("follows", "[1,2]")
                                  : reader.Get("things", std::to_string(i % 60 + 1));
        if (!r.ok() || !r->has_value()) {
          ++bad;
          continue;
        }
        // The read position never goes back for one thread (each read is a new statement).
        if ((*r)->lsn < last_lsn) ++bad;
        last_lsn = (*r)->lsn;
        ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  app.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(ok.load(), 800);
  // Keys 51..60 are not in the table: tombstones at the read position.
  auto gone = reader.Get("things", "55");
  ASSERT_TRUE(gone.ok() && gone->has_value());
  EXPECT_TRUE((*gone)->tombstone);
  EXPECT_FALSE(reader.Get("things", "[1,2]").ok());  // a key of the wrong type is refused
}

}  // namespace
}  // namespace cmo::shadow
