// The store conformance suite: every backend behind store::PrimaryStore / store::ReplicaStore
// must pass the same tests. store_conformance.cc holds them; each backend's test executable
// instantiates them with a Backend that hands out fresh, empty store locations.
#ifndef CMO_TESTS_STORE_STORE_CONFORMANCE_H_
#define CMO_TESTS_STORE_STORE_CONFORMANCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/fakes/fake_clock.h"

namespace cmo::store::conformance {

struct StoreAt {
  std::string url;
  StoreOptions options;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // A location no store has used yet, every call (the property test asks for hundreds).
  virtual absl::StatusOr<StoreAt> Fresh(int digest_bits) = 0;
};

// Backends are process-wide (a PostgreSQL server is started once per test process).
using BackendFactory = Backend* (*)();

class StoreConformance : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override;
  std::vector<int64_t> Write(std::vector<WriteRequest> writes);
  std::vector<Row> Outbox();

  Backend* backend_ = nullptr;
  ::cmo::testing::FakeClock clock_;
  std::unique_ptr<PrimaryStore> primary_;
  std::unique_ptr<ReplicaStore> replica_;
};

}  // namespace cmo::store::conformance

#endif  // CMO_TESTS_STORE_STORE_CONFORMANCE_H_
