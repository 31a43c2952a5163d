#include "shadow/flag_source.h"

#include "base/status_macros.h"
#include "base/strings.h"
#include "flags/flag_json.h"

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

absl::StatusOr<std::unique_ptr<KafkaFlagSource>> KafkaFlagSource::Create(
    const base::KafkaConfig& kafka, const base::Clock& clock,
    std::shared_ptr<const base::KeyRing> keys, absl::Duration silence_limit) {
  if (keys == nullptr) {
    return absl::FailedPreconditionError(
        "flags from Kafka need the message key (STATE_DIR/message-key of `cmo serve`): an "
        "unsigned snapshot cannot be told from a forged one");
  }
  base::KafkaConfig config = kafka;
  // A trip must reach every client within a second: fetch as soon as anything arrives.
  config.emplace("fetch.wait.max.ms", "10");
  config.emplace("reconnect.backoff.max.ms", "1000");
  CMO_ASSIGN_OR_RETURN(auto consumer, base::KafkaConsumer::Create(config));
  return std::unique_ptr<KafkaFlagSource>(
      new KafkaFlagSource(std::move(consumer), clock, std::move(keys), silence_limit));
}

KafkaFlagSource::~KafkaFlagSource() = default;

absl::Status KafkaFlagSource::Assign() {
  const std::string topic(kFlagsTopic);
  CMO_ASSIGN_OR_RETURN(auto marks, consumer_->Watermarks(topic, 0, 2000));
  const int64_t start = marks.second > marks.first ? marks.second - 1 : base::kOffsetBeginning;
  CMO_RETURN_IF_ERROR(consumer_->Assign({{topic, 0, start}}));
  assigned_ = true;
  last_heard_ = clock_.Now();
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const flags::Snapshot>> KafkaFlagSource::Poll(int64_t revision) {
  if (!assigned_) CMO_RETURN_IF_ERROR(Assign());
  std::shared_ptr<const flags::Snapshot> best;
  const absl::Time give_up = clock_.Now() + (revision < 0 ? silence_limit_ : absl::ZeroDuration());
  do {
    CMO_ASSIGN_OR_RETURN(std::vector<base::KafkaMessage> messages,
                         consumer_->Poll(100, revision < 0 ? 50 : 0));
    for (const base::KafkaMessage& m : messages) {
      absl::StatusOr<std::string> signed_text = keys_->Verify(m.value);
      if (!signed_text.ok()) {  // unsigned or forged: never applied, counted
        ++refused_;
        continue;
      }
      absl::StatusOr<std::shared_ptr<const flags::Snapshot>> snap =
          flags::DecodeSnapshot(*signed_text);
      if (!snap.ok()) continue;  // not ours: skip, as change consumers do
      last_heard_ = clock_.Now();
      if (revision >= 0 && (*snap)->revision() > revision + kMaxRevisionJump) {
        ++refused_;
        continue;
      }
      if (best == nullptr || (*snap)->revision() > best->revision()) best = *std::move(snap);
    }
  } while (best == nullptr && clock_.Now() < give_up);
  if (clock_.Now() - last_heard_ > silence_limit_ || (revision < 0 && best == nullptr)) {
    return absl::UnavailableError(base::StrCat(
        "no flag snapshot on ", kFlagsTopic, " for ", absl::FormatDuration(silence_limit_),
        "; is `cmo serve` running and reachable?"));
  }
  if (best == nullptr || best->revision() <= revision) return nullptr;
  return best;
}

}  // namespace cmo::shadow
