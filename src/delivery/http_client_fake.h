// FakeHttpClient: an in-memory HttpClient for tests of delivery and of anything that sends HTTP.
// Header-only so that any test can include it without linking Beast.
//
// Two ways to answer:
//  - setResponder(fn): every post() is answered at once (synchronously, inside post()) by fn(req);
//  - without a responder, posts wait in pending() until the test calls completeNext(outcome) /
//    completeAll(outcome), which lets a test hold requests in flight (concurrency tests).
// Every post is recorded in sent() in order. Thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "delivery/http_client.h"

namespace sluice::delivery {

class FakeHttpClient final : public HttpClient {
 public:
  using Responder = std::function<HttpOutcome(const HttpPost&)>;

  void post(HttpPost req, HttpDone done) override {
    Responder responder;
    {
      std::lock_guard lock(mutex_);
      sent_.push_back(req);
      responder = responder_;
      if (!responder) {
        pending_.emplace_back(std::move(req), std::move(done));
        return;
      }
    }
    HttpOutcome outcome = responder(req);
    done(std::move(outcome));
  }

  // Answers every later post() at once with fn(req). Pass nullptr to go back to holding requests.
  void setResponder(Responder fn) {
    std::lock_guard lock(mutex_);
    responder_ = std::move(fn);
  }

  // Completes the oldest pending request with `outcome`; false when none is pending.
  bool completeNext(HttpOutcome outcome) {
    std::pair<HttpPost, HttpDone> next;
    {
      std::lock_guard lock(mutex_);
      if (pending_.empty()) return false;
      next = std::move(pending_.front());
      pending_.pop_front();
    }
    next.second(std::move(outcome));
    return true;
  }

  // Completes every pending request with a copy of `outcome`; returns how many.
  size_t completeAll(const HttpOutcome& outcome) {
    size_t n = 0;
    while (completeNext(outcome)) ++n;
    return n;
  }

  size_t pendingCount() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }
  // A copy of the pending requests (oldest first), without completing them.
  std::vector<HttpPost> pending() const {
    std::lock_guard lock(mutex_);
    std::vector<HttpPost> out;
    for (const auto& p : pending_) out.push_back(p.first);
    return out;
  }
  // Every request posted so far, oldest first.
  std::vector<HttpPost> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  size_t sentCount() const {
    std::lock_guard lock(mutex_);
    return sent_.size();
  }

  // Helpers to build outcomes.
  static HttpOutcome reply(int status, std::string body, HttpHeaders headers = {}) {
    HttpOutcome o;
    o.status = status;
    o.body = std::move(body);
    o.headers = std::move(headers);
    o.latency = std::chrono::microseconds(1000);
    return o;
  }
  static HttpOutcome tikTokCode(int code, std::string message = "OK") {
    return reply(200, "{\"code\":" + std::to_string(code) + ",\"message\":\"" + message +
                          "\",\"request_id\":\"fake\",\"data\":{}}");
  }
  static HttpOutcome transportFailure(TransportError error) {
    HttpOutcome o;
    o.error = error;
    o.errorMessage = transportErrorName(error);
    return o;
  }

 private:
  mutable std::mutex mutex_;
  Responder responder_;                                // GUARDED_BY(mutex_)
  std::deque<std::pair<HttpPost, HttpDone>> pending_;  // GUARDED_BY(mutex_)
  std::vector<HttpPost> sent_;                         // GUARDED_BY(mutex_)
};

}  // namespace sluice::delivery
