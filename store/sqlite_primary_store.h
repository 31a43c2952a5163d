// The primary on an embedded SQLite file: the default, and what the demo and the tests that
// need no server use. One writer at a time (SQLite's write lock), so LSNs are assigned and
// committed in order by construction.
#ifndef CMO_STORE_SQLITE_PRIMARY_STORE_H_
#define CMO_STORE_SQLITE_PRIMARY_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "store/internal/sqlite_row_store.h"
#include "store/primary_store.h"

namespace cmo::store {

class SqlitePrimaryStore final : public internal::SqliteRowStore<PrimaryStore> {
 public:
  static absl::StatusOr<std::unique_ptr<SqlitePrimaryStore>> Open(const std::string& path,
                                                                  const base::Clock& clock,
                                                                  const StoreOptions& options);
  ~SqlitePrimaryStore() override;

  absl::StatusOr<std::vector<int64_t>> Write(std::span<const WriteRequest> writes) override;
  absl::StatusOr<int64_t> LastLsn() override;
  absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(int64_t after_lsn, int limit) override;
  absl::Status SetPublishedThrough(int64_t lsn) override;
  absl::StatusOr<int64_t> PublishedThrough() override;
  absl::StatusOr<int64_t> RequestRepublish() override;
  absl::StatusOr<int64_t> RepublishRequests() override;
  absl::Status TrimOutbox(int64_t lsn) override;
  absl::StatusOr<int64_t> OutboxSize() override;

 private:
  SqlitePrimaryStore(internal::OpenedStore opened, const base::Clock& clock);
  absl::StatusOr<int64_t> Setting(std::string_view name);
  absl::Status SetSetting(std::string_view name, int64_t value);

  const base::Clock& clock_;
};

}  // namespace cmo::store

#endif  // CMO_STORE_SQLITE_PRIMARY_STORE_H_
