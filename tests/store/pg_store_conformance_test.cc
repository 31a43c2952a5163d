// The store conformance suite on PostgreSQL: one throwaway server per test process, a fresh
// schema per store (creating a schema is cheap enough for the property test's hundreds).
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/fakes/pg_server.h"
#include "tests/store/store_conformance.h"

namespace cmo::store::conformance {
namespace {

class PostgresBackend : public Backend {
 public:
  absl::StatusOr<StoreAt> Fresh(int digest_bits) override {
    if (server_ == nullptr) {
      absl::StatusOr<std::unique_ptr<::cmo::testing::PgServer>> server =
          ::cmo::testing::PgServer::Start();
      if (!server.ok()) return server.status();
      server_ = *std::move(server);
    }
    StoreAt at;
    at.url = server_->Uri();
    at.options.digest_bits = digest_bits;
    at.options.pg_schema = "store_" + std::to_string(next_++);
    return at;
  }

 private:
  std::unique_ptr<::cmo::testing::PgServer> server_;
  std::atomic<int> next_ = 0;
};

PostgresBackend backend;  // destroyed at exit: stops the server

Backend* Postgres() { return &backend; }

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformance, ::testing::Values(&Postgres));

}  // namespace
}  // namespace cmo::store::conformance
