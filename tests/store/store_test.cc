// The store conformance suite on the embedded SQLite backend (files in a temp dir).
#include <atomic>
#include <string>

#include "tests/fakes/temp_dir.h"
#include "tests/store/store_conformance.h"

namespace cmo::store::conformance {
namespace {

class SqliteBackend : public Backend {
 public:
  absl::StatusOr<StoreAt> Fresh(int digest_bits) override {
    StoreAt at;
    at.url = "sqlite:" + dir_.File("store-" + std::to_string(next_++) + ".db");
    at.options.digest_bits = digest_bits;
    at.options.synchronous_full = false;
    return at;
  }

 private:
  ::cmo::testing::TempDir dir_;
  std::atomic<int> next_ = 0;
};

Backend* Sqlite() {
  static auto* backend = new SqliteBackend();
  return backend;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values(&Sqlite));

}  // namespace
}  // namespace cmo::store::conformance
