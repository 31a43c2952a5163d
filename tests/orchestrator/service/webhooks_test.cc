// Webhook delivery against a real local HTTP receiver: subscriptions, signatures, the JSON and
// Slack bodies, retries with backoff, giving up, and a queue that never blocks the caller.
#include "orchestrator/service/webhooks.h"

#include "base/message_auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/webhook_receiver.h"

namespace cmo::orchestrator {
namespace {

using ::cmo::testing::Receiver;
using ::testing::HasSubstr;

Notification Breaker() {
  return {.event = "breaker",
          .op = "feed.read",
          .text = "trip (open): fallback ratio 2.1% > 1%",
          .details = {{"state", "open"}},
          .at = absl::FromUnixMillis(1'796'000'000'123)};
}

WebhookOptions Fast() {
  return {.max_attempts = 3,
          .first_retry = absl::Milliseconds(10),
          .max_retry = absl::Milliseconds(40),
          .timeout = absl::Seconds(5),
          .max_queued = 100};
}

TEST(WebhooksTest, SubscribedWebhooksGetSignedJsonOrSlackBodies) {
  Receiver rx;
  WebhookNotifier n({{.url = rx.Url("/cmo"), .events = {"breaker"}, .secret = "s3cret"},
                     {.url = rx.Url("/slack"), .events = {}, .secret = "", .slack = true}},
                    Fast());
  n.Notify(Breaker());
  n.Notify({.event = "plan", .op = "feed.read", .text = "step 2: ramp 5%"});
  ASSERT_TRUE(n.Drain(absl::Seconds(10)));
  EXPECT_EQ(n.metrics().delivered, 3);
  std::vector<Receiver::Request> cmo, slack;
  for (const Receiver::Request& r : rx.requests()) (r.path == "/cmo" ? cmo : slack).push_back(r);
  ASSERT_EQ(cmo.size(), 1u) << "the plan event went to a webhook subscribed to breaker only";
  ASSERT_EQ(slack.size(), 2u);

  const Receiver::Request& r = cmo[0];
  const nlohmann::json body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["event"], "breaker");
  EXPECT_EQ(body["op"], "feed.read");
  EXPECT_EQ(body["at"], "2026-11-30T00:53:20.123Z");  // RFC 3339, UTC
  EXPECT_EQ(body["details"]["state"], "open");
  EXPECT_EQ(r.headers.find("X-Cmo-Event")->second, "breaker");
  EXPECT_FALSE(r.headers.find("X-Cmo-Delivery")->second.empty());
  // The receiver checks the body against the shared secret.
  EXPECT_EQ(r.headers.find("X-Cmo-Signature")->second,
            "sha256=" + base::HmacSha256Hex("s3cret", r.body));
  EXPECT_EQ(slack[0].headers.count("X-Cmo-Signature"), 0u);
  EXPECT_EQ(nlohmann::json::parse(slack[0].body)["text"],
            "[cmo] breaker feed.read: trip (open): fallback ratio 2.1% > 1%");
}

TEST(WebhooksTest, ServerErrorsAreRetriedWithTheSameDeliveryId) {
  Receiver rx;
  rx.SetStatuses({500, 503});
  WebhookNotifier n({{.url = rx.Url("/hook")}}, Fast());
  n.Notify(Breaker());
  ASSERT_TRUE(n.Drain(absl::Seconds(10)));
  const WebhookMetrics m = n.metrics();
  EXPECT_EQ(m.delivered, 1);
  EXPECT_EQ(m.retries, 2);
  EXPECT_EQ(m.failed, 0);
  const std::vector<Receiver::Request> got = rx.requests();
  ASSERT_EQ(got.size(), 3u);
  for (const Receiver::Request& r : got) {
    EXPECT_EQ(r.headers.find("X-Cmo-Delivery")->second,
              got[0].headers.find("X-Cmo-Delivery")->second);
  }
}

TEST(WebhooksTest, AnUnreachableReceiverIsGivenUpOnAfterMaxAttempts) {
  std::string url;
  {
    Receiver gone;  // a port that was just free: nothing listens there now
    url = gone.Url("/hook");
  }
  WebhookNotifier n({{.url = url}}, Fast());
  n.Notify(Breaker());
  ASSERT_TRUE(n.Drain(absl::Seconds(30)));
  const WebhookMetrics m = n.metrics();
  EXPECT_EQ(m.delivered, 0);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.retries, 2);  // 3 attempts
  EXPECT_THAT(m.last_error, HasSubstr(url));
}

TEST(WebhooksTest, ARefusalIsNotRetried) {
  Receiver rx;
  rx.SetStatuses({400});
  WebhookNotifier n({{.url = rx.Url("/hook")}}, Fast());
  n.Notify(Breaker());
  ASSERT_TRUE(n.Drain(absl::Seconds(10)));
  EXPECT_EQ(n.metrics().failed, 1);
  EXPECT_EQ(n.metrics().retries, 0);
  EXPECT_THAT(n.metrics().last_error, HasSubstr("HTTP 400"));
  EXPECT_EQ(rx.requests().size(), 1u);
}

// A receiver that hangs must not hold up the control loop that notifies: the queue is bounded
// and what does not fit is dropped (and counted), while Notify returns at once.
TEST(WebhooksTest, AHangingReceiverNeverBlocksTheCaller) {
  Receiver rx;
  rx.delay_ms = 1000;
  WebhookOptions o = Fast();
  o.max_queued = 5;
  WebhookNotifier n({{.url = rx.Url("/hook")}}, o);
  for (int i = 0; i < 100; ++i) n.Notify(Breaker());
  const WebhookMetrics m = n.metrics();
  EXPECT_EQ(m.queued, 5);
  EXPECT_EQ(m.dropped, 95);
}

TEST(WebhooksTest, UrlsAreChecked) {
  EXPECT_TRUE(ValidateWebhookUrl("https://hooks.example/cmo?x=1").ok());
  EXPECT_TRUE(ValidateWebhookUrl("http://127.0.0.1:9000").ok());
  EXPECT_THAT(ValidateWebhookUrl("hooks.example/cmo").message(),
              HasSubstr("must start with http:// or https://"));
  EXPECT_THAT(ValidateWebhookUrl("https://").message(), HasSubstr("no host"));
}

}  // namespace
}  // namespace cmo::orchestrator
