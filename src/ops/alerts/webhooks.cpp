#include "ops/alerts/webhooks.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <future>

#include "core/thread_name.h"

namespace sluice::ops::alerts {
namespace {

using SteadyClock = std::chrono::steady_clock;

// What an alert is about: "destination[ / event]", empty for an alert of no destination.
std::string about(const Alert& a) {
  return a.spec.event.empty() ? a.spec.destination : a.spec.destination + " / " + a.spec.event;
}

std::string title(const Alert& a) {
  const std::string what = about(a);
  return std::string(a.active() ? "FIRING" : "RESOLVED") + " [" + severityName(a.spec.severity) +
         "] " + a.spec.kind + (what.empty() ? "" : " - " + what);
}

}  // namespace

std::string webhookJsonBody(const Alert& a) {
  boost::json::object out;
  out["source"] = "sluice";
  out["status"] = a.active() ? "firing" : "resolved";
  out["alert"] = alertToJson(a);
  return boost::json::serialize(out);
}

std::string webhookSlackBody(const Alert& a) {
  std::string text =
      (a.active() ? ":rotating_light: " : ":white_check_mark: ") + title(a) + ": " + a.spec.message;
  if (!a.active()) {
    text += " (resolved after " + std::to_string((a.resolvedMs - a.startedMs) / 1000) + " s";
    if (!a.resolvedMessage.empty()) text += ": " + a.resolvedMessage;
    text += ")";
  }
  std::string detail = "*" + title(a) + "*\n" + a.spec.message;
  if (!a.active() && !a.resolvedMessage.empty()) detail += "\n_" + a.resolvedMessage + "_";
  boost::json::object section;
  section["type"] = "section";
  section["text"] = {{"type", "mrkdwn"}, {"text", detail}};
  boost::json::object out;
  out["text"] = text;
  out["blocks"] = boost::json::array{section};
  return boost::json::serialize(out);
}

std::string redactedUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "(invalid url)";
  size_t end = url.find_first_of("/?#", scheme + 3);
  std::string authority =
      url.substr(scheme + 3, end == std::string::npos ? std::string::npos : end - scheme - 3);
  if (const size_t at = authority.rfind('@'); at != std::string::npos) {
    authority = authority.substr(at + 1);  // user:password@
  }
  return url.substr(0, scheme + 3) + authority;
}

WebhookNotifier::WebhookNotifier(delivery::HttpClient& client, WebhookOptions options,
                                 std::vector<WebhookTarget> targets)
    : client_(client), options_(options), targets_(std::move(targets)) {
  worker_ = std::thread([this] { run(); });
}

WebhookNotifier::~WebhookNotifier() { stop(); }

void WebhookNotifier::configure(WebhookOptions options, std::vector<WebhookTarget> targets) {
  std::lock_guard lock(mutex_);
  options_ = options;
  targets_ = std::move(targets);
}

void WebhookNotifier::notify(const Alert& alert) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  const std::string subject = about(alert);
  const std::string what = alert.spec.kind + (subject.empty() ? "" : " " + subject) +
                           (alert.active() ? " started" : " resolved") + " (id " +
                           std::to_string(alert.id) + ")";
  for (const WebhookTarget& target : targets_) {
    std::deque<Job>& queue = queues_[target.url];
    // The head may be being sent: never drop it.
    while (queue.size() >= std::max<size_t>(2, options_.queueLimit)) {
      spdlog::warn("alert webhook {}: queue full, dropping {}", redactedUrl(target.url),
                   queue[1].what);
      queue.erase(queue.begin() + 1);
      ++stats_.dropped;
    }
    Job job;
    job.target = target;
    job.body =
        target.format == WebhookFormat::kSlack ? webhookSlackBody(alert) : webhookJsonBody(alert);
    job.what = what;
    job.due = SteadyClock::now();
    queue.push_back(std::move(job));
  }
  wake_.notify_all();
}

bool WebhookNotifier::sendOnce(Job& job) {
  int64_t timeoutMs;
  {
    std::lock_guard lock(mutex_);
    timeoutMs = options_.timeoutMs;
  }
  delivery::HttpPost post;
  post.url = job.target.url;
  post.headers = job.target.headers;
  const bool hasType = std::any_of(post.headers.begin(), post.headers.end(), [](const auto& h) {
    std::string name = h.first;
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    return name == "content-type";
  });
  if (!hasType) post.headers.emplace_back("Content-Type", "application/json");
  post.body = job.body;
  post.timeout = std::chrono::milliseconds(timeoutMs);
  auto promise = std::make_shared<std::promise<delivery::HttpOutcome>>();
  auto future = promise->get_future();
  client_.post(std::move(post), [promise](delivery::HttpOutcome outcome) {
    promise->set_value(std::move(outcome));
  });
  delivery::HttpOutcome outcome;
  if (future.wait_for(std::chrono::milliseconds(timeoutMs + 5'000)) == std::future_status::ready) {
    outcome = future.get();
  } else {
    outcome.error = delivery::TransportError::kTimeout;
    outcome.errorMessage = "no reply in time";
  }
  ++job.attempt;
  const std::string where = redactedUrl(job.target.url);
  if (outcome.error == delivery::TransportError::kNone && outcome.status >= 200 &&
      outcome.status < 300) {
    spdlog::debug("alert webhook {}: sent {}", where, job.what);
    std::lock_guard lock(mutex_);
    ++stats_.delivered;
    return true;
  }
  const std::string problem = outcome.error != delivery::TransportError::kNone
                                  ? std::string(delivery::transportErrorName(outcome.error))
                                  : "HTTP " + std::to_string(outcome.status);
  const bool retryable = outcome.error != delivery::TransportError::kNone
                             ? outcome.error != delivery::TransportError::kInvalid &&
                                   outcome.error != delivery::TransportError::kCancelled
                             : outcome.status == 429 || outcome.status >= 500;
  std::lock_guard lock(mutex_);
  if (!retryable || job.attempt >= options_.attempts || stopping_) {
    spdlog::error("alert webhook {}: giving up on {} after {} attempt(s): {}", where, job.what,
                  job.attempt, problem);
    ++stats_.failed;
    return true;
  }
  int64_t delay = options_.backoffBaseMs;
  for (int i = 1; i < job.attempt && delay < options_.backoffCapMs; ++i) delay *= 2;
  delay = std::min(delay, options_.backoffCapMs);
  spdlog::warn("alert webhook {}: {} failed ({}), retrying in {} ms", where, job.what, problem,
               delay);
  ++stats_.retries;
  job.due = SteadyClock::now() + std::chrono::milliseconds(delay);
  return false;
}

void WebhookNotifier::run() {
  nameThisThread("alert-webhooks");
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) break;
    // The queue whose head is due first.
    std::deque<Job>* next = nullptr;
    for (auto& [url, queue] : queues_) {
      if (!queue.empty() && (next == nullptr || queue.front().due < next->front().due)) {
        next = &queue;
      }
    }
    if (next == nullptr) {
      wake_.wait(lock);
      continue;
    }
    if (next->front().due > SteadyClock::now()) {
      wake_.wait_until(lock, next->front().due);
      continue;
    }
    Job job = next->front();
    const std::string url = job.target.url;
    sending_ = true;
    lock.unlock();
    const bool done = sendOnce(job);
    lock.lock();
    sending_ = false;
    std::deque<Job>& queue = queues_[url];
    if (!queue.empty()) {
      if (done) {
        queue.pop_front();
      } else {
        queue.front().attempt = job.attempt;
        queue.front().due = job.due;
      }
    }
    if (queue.empty()) queues_.erase(url);
    wake_.notify_all();
  }
}

bool WebhookNotifier::drain(int64_t timeoutMs) {
  std::unique_lock lock(mutex_);
  return wake_.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                        [&] { return stopping_ || (queues_.empty() && !sending_); });
}

void WebhookNotifier::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
    size_t left = 0;
    for (const auto& [url, queue] : queues_) left += queue.size();
    if (left > 0) spdlog::warn("alert webhooks: {} message(s) not sent at shutdown", left);
    queues_.clear();
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

WebhookStats WebhookNotifier::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace sluice::ops::alerts
