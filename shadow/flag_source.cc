#include "shadow/flag_source.h"

#include "base/status_macros.h"

namespace cmo::shadow {

absl::StatusOr<std::shared_ptr<const flags::Snapshot>> ControlDbFlagSource::Poll(
    int64_t revision) {
  absl::StatusOr<std::shared_ptr<const flags::Snapshot>> out = [&]()
      -> absl::StatusOr<std::shared_ptr<const flags::Snapshot>> {
    if (store_ == nullptr) {
      CMO_ASSIGN_OR_RETURN(store_, flags::FlagStore::Open(path_, clock_));
    }
    CMO_ASSIGN_OR_RETURN(int64_t now, store_->Revision());
    if (now == revision) return nullptr;
    return store_->LoadSnapshot();
  }();
  if (!out.ok()) store_.reset();  // the file may have been replaced or repaired: reopen
  return out;
}

}  // namespace cmo::shadow
