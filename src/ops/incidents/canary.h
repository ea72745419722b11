// Canary events: per destination with `canary.enabled`, a scheduled test event sent every
// `canary.interval` with the destination's `test_event_code` (the configuration refuses a canary
// without one), so that TikTok shows it under "Test events" and never counts it as a conversion.
// The event is built through tiktok::Destination (a valid v1.3 body with the destination's pixel,
// token and partner name), sent with the runner's own HTTP client (never through the event log or
// the dispatcher) under the destination's own timeouts (flow.connect_timeout for the connection,
// flow.request_timeout for the exchange), and its reply judged by the destination's reply
// classifier. Every result is
// recorded in the incident log and passed to a listener (alerts raise/resolve "canary failed").
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/result.h"
#include "delivery/http_client.h"
#include "ops/incidents/incident.h"
#include "ops/incidents/incident_store.h"

namespace sluice::ops::incidents {

// The canary's Segment-style source event (a track "sluice canary" with `eventId` as messageId) and
// the request carrying its TikTok item, built with `destination`'s settings. kInvalidArgument when
// the destination has no test_event_code.
Result<delivery::HttpPost> buildCanaryRequest(const config::DestinationConfig& destination,
                                              EpochMs nowMs, const std::string& eventId);

// Judges the reply (or transport error) to a canary as delivery would. `timeMs` is when it was
// sent.
CanaryResult judgeCanary(const config::DestinationConfig& destination, EpochMs timeMs,
                         const delivery::HttpOutcome& outcome);

class CanaryRunner {
 public:
  // Called with every result, on the thread that ran the canary. Must not call back into the
  // runner.
  using Listener = std::function<void(const CanaryResult& result)>;

  // Makes an HTTP client whose connections time out after `connectTimeout`.
  using ClientFactory = std::function<std::unique_ptr<delivery::HttpClient>(
      std::chrono::milliseconds connectTimeout)>;

  // Canaries go through clients made by `makeClient`, one per distinct flow.connect_timeout of the
  // destinations (made at their first canary, kept until the runner is destroyed). `store` and
  // `clock` must outlive the runner.
  CanaryRunner(ClientFactory makeClient, IncidentStore& store, const Clock& clock);
  // Every canary goes through `client` (tests: a fake client has no connect timeout of its own).
  // `client`, `store` and `clock` must outlive the runner.
  CanaryRunner(delivery::HttpClient& client, IncidentStore& store, const Clock& clock);
  ~CanaryRunner();  // stop()s
  CanaryRunner(const CanaryRunner&) = delete;
  CanaryRunner& operator=(const CanaryRunner&) = delete;

  void setListener(Listener listener);

  // The destinations to watch: those enabled with canary.enabled. A new one is due at once; one
  // whose interval changed is due at its last run + the new interval. Thread-safe.
  void configure(const std::vector<config::DestinationConfig>& destinations);

  // Sends one canary to `destination` now (it need not be configured here), waits for the reply
  // (bounded by its connect and request timeouts), records the result and tells the listener.
  // An error when the result cannot be recorded (it is still in lastResults()), and kCancelled
  // (nothing recorded) when stop() came first.
  Result<CanaryResult> runNow(const config::DestinationConfig& destination);

  // Runs every configured canary that is due at the clock's time; returns how many ran.
  int runDue();

  // Runs due canaries on a thread (checking at least every second) until stop().
  void start();
  void stop();

  // The last result of every destination that has one (this process), by destination.
  std::map<std::string, CanaryResult> lastResults() const;

 private:
  struct Watched {
    config::DestinationConfig config;
    EpochMs dueMs = 0;
    EpochMs lastRunMs = 0;
  };
  void threadMain();
  delivery::HttpClient& clientFor(const config::DestinationConfig& destination);  // runMutex_ held

  delivery::HttpClient* sharedClient_ = nullptr;  // set: every canary uses it
  ClientFactory makeClient_;
  std::map<int64_t, std::unique_ptr<delivery::HttpClient>> clients_;  // GUARDED_BY(runMutex_)
  IncidentStore& store_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  Listener listener_;                         // GUARDED_BY(mutex_)
  std::map<std::string, Watched> watched_;    // GUARDED_BY(mutex_)
  std::map<std::string, CanaryResult> last_;  // GUARDED_BY(mutex_)
  uint64_t sequence_ = 0;                     // GUARDED_BY(mutex_)
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;
  std::mutex runMutex_;  // one canary at a time
};

}  // namespace sluice::ops::incidents
