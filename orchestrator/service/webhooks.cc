#include "orchestrator/service/webhooks.h"

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "base/message_auth.h"
#include "base/strings.h"
#include "base/time_text.h"

namespace cmo::orchestrator {
namespace {

struct ParsedUrl {
  std::string origin;  // scheme://host[:port]
  std::string path;    // "/..." (with the query, if any)
};

absl::StatusOr<ParsedUrl> ParseUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  const std::string_view scheme =
      url.substr(0, scheme_end == std::string_view::npos ? 0 : scheme_end);
  if (scheme != "http" && scheme != "https") {
    return absl::InvalidArgumentError(
        base::StrCat("webhook url ", url,
                     ": must start with http:// or https://, e.g. https://hooks.example/cmo"));
  }
  const size_t host_start = scheme_end + 3;
  const size_t path_start = url.find('/', host_start);
  ParsedUrl out;
  out.origin = std::string(url.substr(0, path_start));
  out.path = path_start == std::string_view::npos ? "/" : std::string(url.substr(path_start));
  if (out.origin.size() <= host_start) {
    return absl::InvalidArgumentError(base::StrCat("webhook url ", url, ": no host"));
  }
  return out;
}

}  // namespace

absl::Status ValidateWebhookUrl(std::string_view url) { return ParseUrl(url).status(); }

std::string WebhookNotifier::Body(const Notification& n, bool slack) {
  if (slack) {
    return nlohmann::json{{"text", base::StrCat("[cmo] ", n.event, " ", n.op, ": ", n.text)}}
        .dump();
  }
  return nlohmann::json{{"event", n.event},
                        {"op", n.op},
                        {"text", n.text},
                        {"at", base::Rfc3339(n.at)},
                        {"details", n.details}}
      .dump();
}

struct WebhookNotifier::Hook {
  struct Pending {
    std::string id;
    std::string event;
    std::string body;
  };

  Hook(WebhookConfig c, WebhookOptions o) : config(std::move(c)), options(o) {
    thread = std::thread([this] { Run(); });
  }
  ~Hook() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    thread.join();
  }

  bool Wants(const std::string& event) const {
    return config.events.empty() || config.events.contains(event);
  }

  void Push(Pending p) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (queue.size() >= options.max_queued) {
        ++metrics.dropped;
        return;
      }
      queue.push_back(std::move(p));
    }
    cv.notify_all();
  }

  // One POST; OK on 2xx, kInvalidArgument on a refusal not worth retrying (4xx but 408/429).
  absl::Status Post(const ParsedUrl& url, const Pending& p) {
    httplib::Client client(url.origin);
    const auto secs = absl::ToInt64Seconds(options.timeout);
    client.set_connection_timeout(secs, 0);
    client.set_read_timeout(secs, 0);
    client.set_write_timeout(secs, 0);
    httplib::Headers headers = {
        {"User-Agent", "cmo"}, {"X-Cmo-Event", p.event}, {"X-Cmo-Delivery", p.id}};
    if (!config.secret.empty()) {
      headers.emplace("X-Cmo-Signature",
                      base::StrCat("sha256=", base::HmacSha256Hex(config.secret, p.body)));
    }
    const httplib::Result r = client.Post(url.path, headers, p.body, "application/json");
    if (!r) return absl::UnavailableError(httplib::to_string(r.error()));
    if (r->status / 100 == 2) return absl::OkStatus();
    const std::string what = base::StrCat("HTTP ", r->status);
    if (r->status / 100 == 4 && r->status != 408 && r->status != 429) {
      return absl::InvalidArgumentError(what);
    }
    return absl::UnavailableError(what);
  }

  void Run() {
    const absl::StatusOr<ParsedUrl> url = ParseUrl(config.url);  // validated with the config
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || !queue.empty(); });
      if (stop) return;
      const Pending p = queue.front();
      absl::Duration wait = options.first_retry;
      absl::Status sent = url.status();
      for (int attempt = 1; attempt <= options.max_attempts && url.ok(); ++attempt) {
        lock.unlock();
        sent = Post(*url, p);
        lock.lock();
        if (sent.ok() || absl::IsInvalidArgument(sent) || stop) break;
        if (attempt == options.max_attempts) break;
        ++metrics.retries;
        // Backoff; a stop wakes it.
        if (cv.wait_for(lock, absl::ToChronoNanoseconds(wait), [&] { return stop; })) break;
        wait = std::min(wait * 2, options.max_retry);
      }
      if (stop) return;
      if (sent.ok()) {
        ++metrics.delivered;
      } else {
        ++metrics.failed;
        metrics.last_error = base::StrCat(config.url, ": ", sent.message());
      }
      queue.pop_front();
      cv.notify_all();
    }
  }

  const WebhookConfig config;
  const WebhookOptions options;
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::deque<Pending> queue;  // front: the one being sent
  bool stop = false;
  WebhookMetrics metrics;
  std::thread thread;
};

WebhookNotifier::WebhookNotifier(std::vector<WebhookConfig> hooks, WebhookOptions options) {
  for (WebhookConfig& c : hooks) hooks_.push_back(std::make_unique<Hook>(std::move(c), options));
}

WebhookNotifier::~WebhookNotifier() = default;

void WebhookNotifier::Notify(const Notification& n) {
  static std::atomic<int64_t> next{1};
  const std::string id = base::StrCat(::getpid(), "-", next.fetch_add(1));
  for (auto& h : hooks_) {
    if (h->Wants(n.event)) h->Push({id, n.event, Body(n, h->config.slack)});
  }
}

WebhookMetrics WebhookNotifier::metrics() const {
  WebhookMetrics sum;
  for (const auto& h : hooks_) {
    std::lock_guard<std::mutex> lock(h->mu);
    sum.delivered += h->metrics.delivered;
    sum.retries += h->metrics.retries;
    sum.failed += h->metrics.failed;
    sum.dropped += h->metrics.dropped;
    sum.queued += static_cast<int64_t>(h->queue.size());
    if (!h->metrics.last_error.empty()) sum.last_error = h->metrics.last_error;
  }
  return sum;
}

bool WebhookNotifier::Drain(absl::Duration timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  for (const auto& h : hooks_) {
    std::unique_lock<std::mutex> lock(h->mu);
    if (!h->cv.wait_until(lock, deadline, [&] { return h->queue.empty(); })) return false;
  }
  return true;
}

}  // namespace cmo::orchestrator
