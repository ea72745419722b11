// Alert notifications as webhooks: a generic JSON body or a Slack-compatible one, POSTed through
// delivery's HttpClient (http and https). notify() only queues: a worker thread sends, one
// message at a time per URL and in order (a resolution never overtakes its start), retrying
// transport errors, 429 and 5xx with exponential backoff up to `attempts` times. Logs name a
// webhook by scheme and host only (a Slack URL's path is its secret); header values are never
// logged.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "delivery/http_client.h"
#include "ops/alerts/alert_centre.h"

namespace sluice::ops::alerts {

enum class WebhookFormat { kJson, kSlack };

struct WebhookTarget {
  std::string url;
  WebhookFormat format = WebhookFormat::kJson;
  delivery::HttpHeaders headers;  // values may be secrets
};

struct WebhookOptions {
  int attempts = 5;  // sends per message, the first included
  int64_t backoffBaseMs = 1'000;
  int64_t backoffCapMs = 60'000;
  int64_t timeoutMs = 10'000;
  size_t queueLimit = 1'000;  // messages waiting per URL; the oldest is dropped beyond
};

// The bodies. JSON: {"source":"sluice","status":"firing"|"resolved","alert":{id, kind,
// destination, event, severity, message, started_ms, resolved_ms}}. Slack: {"text": one line,
// "blocks":[a mrkdwn section]}.
std::string webhookJsonBody(const Alert& alert);
std::string webhookSlackBody(const Alert& alert);
// "https://hooks.slack.com" for "https://hooks.slack.com/services/T/B/X": what logs may show.
std::string redactedUrl(const std::string& url);

struct WebhookStats {
  uint64_t delivered = 0;  // messages a webhook accepted (2xx)
  uint64_t failed = 0;     // messages given up on
  uint64_t retries = 0;
  uint64_t dropped = 0;  // pushed out of a full queue
};

class WebhookNotifier final : public AlertNotifier {
 public:
  // `client` must outlive the notifier. Starts the worker thread.
  WebhookNotifier(delivery::HttpClient& client, WebhookOptions options,
                  std::vector<WebhookTarget> targets);
  ~WebhookNotifier() override;  // stop()s
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  // Queues one message per target. Never blocks on the network.
  void notify(const Alert& alert) override;

  // Targets and options for the messages queued from now on (reload).
  void configure(WebhookOptions options, std::vector<WebhookTarget> targets);

  // Waits (at most timeoutMs) until nothing is queued or being sent. For tests and shutdown.
  bool drain(int64_t timeoutMs);
  // Stops the worker; messages still queued are dropped (and logged). Idempotent.
  void stop();

  WebhookStats stats() const;

 private:
  struct Job {
    WebhookTarget target;
    std::string body;
    std::string what;  // "paused tiktok started", for logs
    int attempt = 0;   // sends done
    std::chrono::steady_clock::time_point due;
  };
  void run();
  // Sends one job and waits for the reply (bounded). True when done with it (sent or given up).
  bool sendOnce(Job& job);

  delivery::HttpClient& client_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  WebhookOptions options_;                         // GUARDED_BY(mutex_)
  std::vector<WebhookTarget> targets_;             // GUARDED_BY(mutex_)
  std::map<std::string, std::deque<Job>> queues_;  // GUARDED_BY(mutex_), by URL
  bool sending_ = false;                           // GUARDED_BY(mutex_)
  bool stopping_ = false;                          // GUARDED_BY(mutex_)
  WebhookStats stats_;                             // GUARDED_BY(mutex_)
  std::thread worker_;
};

}  // namespace sluice::ops::alerts
