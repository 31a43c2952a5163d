// A state dir for client-library tests: flags set directly in the control database, and a
// replica fed by hand from the primary's outbox (no Kafka), so that a test decides exactly how
// far the replica lags.
#ifndef CMO_TESTS_SHADOW_CLIENT_HARNESS_H_
#define CMO_TESTS_SHADOW_CLIENT_HARNESS_H_

#include <memory>
#include <string>

#include "flags/flag_store.h"
#include "gtest/gtest.h"
#include "shadow/change_event.h"
#include "shadow/client.h"
#include "shadow/state_layout.h"
#include "store/primary_store.h"
#include "store/replica_store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"

namespace cmo::testing {

inline constexpr char kRegion[] = "eu-west";

class ClientHarness {
 public:
  explicit ClientHarness(const base::Clock& clock) : clock_(clock) {
    auto flags = flags::FlagStore::Open(shadow::ControlDbPath(dir_.path()), clock_);
    EXPECT_TRUE(flags.ok()) << flags.status();
    flags_ = *std::move(flags);
    auto primary = store::PrimaryStore::Open(shadow::PrimaryPath(dir_.path()), clock_,
                                             {.synchronous_full = false});
    EXPECT_TRUE(primary.ok()) << primary.status();
    primary_ = *std::move(primary);
    auto replica = store::ReplicaStore::Open(shadow::ReplicaPath(dir_.path(), kRegion),
                                             {.synchronous_full = false});
    EXPECT_TRUE(replica.ok()) << replica.status();
    replica_ = *std::move(replica);
  }

  const std::string& state_dir() const { return dir_.path(); }
  store::PrimaryStore& primary() { return *primary_; }
  store::ReplicaStore& replica() { return *replica_; }

  // Registers `op` on `domain` with `target` and puts it in `stage` (ramp_bp, shadow_bp).
  void SetOp(const std::string& op, const std::string& domain, const std::string& target,
             flags::Stage stage, int32_t ramp_bp = 0, int32_t shadow_bp = 0) {
    const flags::ChangeContext ctx{"test", "test", "set", false};
    if (!flags_->Get(op).ok()) {
      flags::Flag f;
      f.op = op;
      f.domain = domain;
      f.target = *flags::ParseTarget(target);
      ASSERT_TRUE(flags_->Add(f, ctx).ok());
    }
    auto changed = flags_->Update(op, ctx, [&](flags::Flag& f) {
      f.stage = stage;
      f.ramp_bp = stage == flags::Stage::kEventual ? 10000 : ramp_bp;
      f.shadow_bp = shadow_bp;
      return absl::OkStatus();
    });
    ASSERT_TRUE(changed.ok()) << changed.status();
  }

  flags::FlagStore& flags() { return *flags_; }

  // Applies every outbox change up to `lsn` to the replica, as an applier would, and moves
  // the replica's watermark of each domain's topic (one partition) to `lsn`.
  void ReplicateThrough(int64_t lsn, const std::vector<std::string>& domains) {
    auto entries = primary_->ReadOutbox(applied_, 1'000'000);
    ASSERT_TRUE(entries.ok()) << entries.status();
    std::vector<store::Row> rows;
    for (const store::OutboxEntry& e : *entries) {
      if (e.row.lsn <= lsn) rows.push_back(e.row);
    }
    std::map<std::string, int> topics;
    std::vector<store::PartitionProgress> progress;
    for (const std::string& d : domains) {
      topics[shadow::ChangeTopic(d)] = 1;
      progress.push_back({shadow::ChangeTopic(d), 0, ++offset_, lsn, offset_});
    }
    ASSERT_TRUE(replica_->SetTopicPartitions(topics).ok());
    ASSERT_TRUE(replica_->Apply(rows, progress).ok());
    applied_ = std::max(applied_, lsn);
  }

  // Writes a row straight into the replica (a corrupted or stray replica row).
  void PutReplicaRow(store::Row row) { ASSERT_TRUE(replica_->Apply({&row, 1}, {}).ok()); }

  shadow::ClientConfig Config() const {
    shadow::ClientConfig c;
    c.state_dir = dir_.path();
    c.region = kRegion;
    c.kafka_brokers = "none";
    c.background = false;
    c.synchronous_full = false;
    return c;
  }

 private:
  const base::Clock& clock_;
  TempDir dir_;
  std::unique_ptr<flags::FlagStore> flags_;
  std::unique_ptr<store::PrimaryStore> primary_;
  std::unique_ptr<store::ReplicaStore> replica_;
  int64_t applied_ = 0;
  int64_t offset_ = 0;
};

}  // namespace cmo::testing

#endif  // CMO_TESTS_SHADOW_CLIENT_HARNESS_H_
