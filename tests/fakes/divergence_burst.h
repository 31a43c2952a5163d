// What an app's clients send to the control service when their shadow reads find a divergence
// burst: one telemetry window for `op` with 10% divergences over 2,000 samples, signed with the
// deployment's key (unsigned windows are dropped), produced to `cmo.telemetry` at `bootstrap`.
// Header-only: the tests that use it link the client library (cmo_shadow).
#ifndef CMO_TESTS_FAKES_DIVERGENCE_BURST_H_
#define CMO_TESTS_FAKES_DIVERGENCE_BURST_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "base/kafka.h"
#include "base/message_auth.h"
#include "base/status_macros.h"
#include "shadow/telemetry.h"

namespace cmo::testing {

inline absl::Status SendDivergenceBurst(const std::string& bootstrap, const std::string& key_file,
                                        const std::string& op = "post.like") {
  CMO_ASSIGN_OR_RETURN(auto producer, base::KafkaProducer::Create(
                                          {{"bootstrap.servers", bootstrap}, {"log_level", "0"}},
                                          [](const base::DeliveryReport&) {}));
  shadow::TelemetryWindow w;
  w.client_id = "test-client";
  w.region = "eu-west";
  w.start = absl::Now() - absl::Milliseconds(250);
  w.end = absl::Now();
  shadow::OpWindow o;
  o.op = op;
  o.samples = 2000;
  o.reads_eventual = 10000;
  o.classes[static_cast<size_t>(shadow::MismatchClass::kMatch)] = 1800;
  o.classes[static_cast<size_t>(shadow::MismatchClass::kDivergence)] = 200;
  w.ops.push_back(o);
  CMO_ASSIGN_OR_RETURN(auto keys, base::KeyRing::Load(key_file));
  CMO_RETURN_IF_ERROR(producer->Produce(std::string(shadow::kTelemetryTopic), -1, w.client_id,
                                        keys->Sign(shadow::EncodeTelemetry(w)), 0));
  return producer->Flush(5000);
}

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_DIVERGENCE_BURST_H_
