// Checks fault tests end with: the state dir's SQLite replicas against its primary.
#ifndef CMO_TESTS_E2E_STATE_DIR_STORES_H_
#define CMO_TESTS_E2E_STATE_DIR_STORES_H_

#include <string>
#include <vector>

#include "base/clock.h"
#include "gtest/gtest.h"
#include "store/primary_store.h"
#include "store/replica_store.h"

namespace cmo::testing {

// True when every region's digests equal the primary's, for every domain (cheap: digests
// only; poll it, then confirm with ExpectRowByRowEqual).
inline bool Converged(const std::string& state, const std::vector<std::string>& regions,
                      const std::vector<std::string>& domains) {
  auto primary = store::PrimaryStore::Open(state + "/primary.db", base::SystemClock());
  if (!primary.ok()) return false;
  for (const std::string& region : regions) {
    auto replica = store::ReplicaStore::Open(state + "/replica-" + region + ".db");
    if (!replica.ok()) return false;
    for (const std::string& d : domains) {
      auto want = (*primary)->Digests(d);
      auto got = (*replica)->Digests(d);
      if (!want.ok() || !got.ok() || *want != *got) return false;
    }
  }
  return true;
}

// Every region holds exactly the primary's rows, bucket by bucket.
inline void ExpectRowByRowEqual(const std::string& state, const std::vector<std::string>& regions,
                                const std::vector<std::string>& domains) {
  auto primary = store::PrimaryStore::Open(state + "/primary.db", base::SystemClock());
  ASSERT_TRUE(primary.ok());
  for (const std::string& region : regions) {
    auto replica = store::ReplicaStore::Open(state + "/replica-" + region + ".db");
    ASSERT_TRUE(replica.ok());
    for (const std::string& d : domains) {
      for (uint32_t b = 0; b < (1u << (*primary)->digest_bits()); ++b) {
        ASSERT_EQ(*(*replica)->RowsInBucket(d, b), *(*primary)->RowsInBucket(d, b))
            << region << " " << d << " bucket " << b;
      }
    }
  }
}

}  // namespace cmo::testing

#endif  // CMO_TESTS_E2E_STATE_DIR_STORES_H_
