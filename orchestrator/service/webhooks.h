// Webhook notifications: breaker transitions, plan steps and pauses, divergence found and
// reconciliation done, POSTed as JSON (or a Slack-compatible {"text": ...}) to the URLs the
// serve config names, signed with HMAC-SHA256 when a secret is set.
//
//   Notify() ──(bounded queue per webhook, never blocks)──► sender thread ──POST──► URL
//                                                              └─ 5xx / no answer: retry with
//                                                                 backoff, up to max_attempts
//
// Delivery is at least once while the process runs (a receiver that answered slowly may get
// a retry of what it already has: X-Cmo-Delivery names each notification). What is queued
// when the process stops is not sent.
#ifndef CMO_ORCHESTRATOR_SERVICE_WEBHOOKS_H_
#define CMO_ORCHESTRATOR_SERVICE_WEBHOOKS_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cmo::orchestrator {

// The events a webhook can subscribe to.
inline constexpr std::string_view kWebhookEvents[] = {"breaker", "plan", "divergence", "reconcile"};

struct WebhookConfig {
  std::string url = {};               // http://HOST[:PORT][/PATH] or https://...
  std::set<std::string> events = {};  // of kWebhookEvents; empty = every event
  // Non-empty: each request carries X-Cmo-Signature: sha256=HEX, the HMAC-SHA256 of the body
  // under this secret, so the receiver can tell cmo's requests from forged ones.
  std::string secret = {};
  bool slack = false;  // body {"text": "..."} (Slack-compatible incoming webhooks)
};

// Checks a webhook URL: scheme http or https, a host. The message says what is wrong.
absl::Status ValidateWebhookUrl(std::string_view url);

struct Notification {
  std::string event = {};  // one of kWebhookEvents
  std::string op = {};     // what it concerns: an op, plan:NAME, REGION/DOMAIN
  std::string text = {};   // one line for a human
  nlohmann::json details = nlohmann::json::object();
  absl::Time at = absl::UnixEpoch();
};

struct WebhookOptions {
  int max_attempts = 8;
  absl::Duration first_retry = absl::Milliseconds(500);  // doubled each attempt
  absl::Duration max_retry = absl::Seconds(30);
  absl::Duration timeout = absl::Seconds(5);  // connect, and read of the answer
  size_t max_queued = 10'000;                 // per webhook; beyond it notifications are dropped
};

struct WebhookMetrics {
  int64_t delivered = 0;
  int64_t retries = 0;
  int64_t failed = 0;   // gave up: attempts exhausted, or refused (4xx)
  int64_t dropped = 0;  // the queue was full
  int64_t queued = 0;   // waiting or in flight now
  std::string last_error;
};

// Thread-safe.
class WebhookNotifier {
 public:
  explicit WebhookNotifier(std::vector<WebhookConfig> hooks, WebhookOptions options = {});
  ~WebhookNotifier();
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  // Queues `n` for every webhook subscribed to its event. Never blocks (a full queue drops).
  void Notify(const Notification& n);
  // Summed over the webhooks.
  WebhookMetrics metrics() const;
  // Waits until nothing is queued or in flight, at most `timeout`; whether it got there.
  bool Drain(absl::Duration timeout) const;

  // The request body of `n` (what a receiver parses).
  static std::string Body(const Notification& n, bool slack);

 private:
  struct Hook;
  std::vector<std::unique_ptr<Hook>> hooks_;
};

}  // namespace cmo::orchestrator

#endif  // CMO_ORCHESTRATOR_SERVICE_WEBHOOKS_H_
