// The dashboard (`/`) and the admin API (`/api/...`) of `sluice serve`. Every route checks the
// admin token (http::adminAuthorized); the page logs in through POST /api/login, which sets the
// `sluice_admin` cookie (HttpOnly, SameSite=Strict) once the typed token is right.
//
//   GET  /api/summary                          per destination: status, counts, backlog, breaker,
//                                              concurrency, last delivery, errors by code; sources
//   GET  /api/destinations/NAME/series?since=T  items per minute by TikTok event name
//   GET  /api/destinations/NAME/dlq?after=ID&limit=N   dead letters, paged (no raw event: PII)
//   POST /api/destinations/NAME/dlq/retry      {"ids":[...]} or {"all":true}; runs in the
//   background GET  /api/retries                          the retry jobs and their outcome GET
//   /api/alerts, /api/incidents           from the providers the wiring gives GET  /api/config
//   config::maskedSummary (no secret) POST /api/login {"token":"..."}, POST /api/logout
//
// Wrong tokens (typed at the login, or sent as a header or cookie to any route) are throttled per
// client address by the http::AdminThrottle shared with the server's other admin routes: 429 with
// Retry-After.
//
// A sampler thread records the growth of DeliveryService::stats() per minute (ThroughputHistory)
// and counts the events received per source by reading what the log appended since the previous
// sample. Secrets never appear in any answer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "http/admin_throttle.h"
#include "http/message.h"
#include "http/server.h"
#include "ops/dashboard/dlq_retrier.h"
#include "ops/dashboard/throughput_history.h"
#include "store/event_log.h"

namespace sluice::delivery {
class DeliveryService;
}

namespace sluice::ops::dashboard {

struct DashboardOptions {
  int64_t sampleIntervalMs = 2'000;
  // A running destination is "degraded" when its breaker is not closed, when it had replies judged
  // "retry" in the last recentErrorsWindowMs, or when its oldest undelivered event is older than
  // degradedBacklogAgeMs.
  int64_t recentErrorsWindowMs = 2 * 60'000;
  int64_t degradedBacklogAgeMs = 5 * 60'000;
  size_t historyMinutes = 1'440;
  size_t maxEventsPerSample = 20'000;  // source counting reads at most this many events per sample
  DlqRetrierOptions retry;
};

// JSON texts from the other operations parts, filled in by the wiring. An empty function answers
// {"active":[],"recent":[]}.
struct DashboardProviders {
  std::function<std::string()> alertsJson;
  std::function<std::string()> incidentsJson;
  // Events stored so far per source, as ingestion counts them (the metrics' counters). When set,
  // the summary's received counts are its growth since start(); when empty, the sampler counts
  // the events it reads back from the log (at most maxEventsPerSample per sample).
  std::function<std::map<std::string, uint64_t>()> storedBySource;
};

class Dashboard {
 public:
  // `log`, `delivery`, `clock` and `throttle` (wrong admin tokens per address, shared with the
  // other admin routes) must outlive the dashboard. Call start() to sample.
  Dashboard(store::EventLog& log, delivery::DeliveryService& delivery, config::Config config,
            const Clock& clock, http::AdminThrottle& throttle, DashboardOptions options = {},
            DashboardProviders providers = {});
  ~Dashboard();  // stop()s

  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // Starts the sampler (events received are counted from the log's end at this moment) and the
  // retry worker.
  Result<void> start();
  // Takes a reloaded configuration (destinations, for the summary, retries and /api/config).
  void reload(const config::Config& config);
  // The address the server is bound to ("127.0.0.1:41234"), shown by the summary as `listen`
  // instead of the configured server.listen (whose port may be 0: any free port). Any thread.
  void setListenAddress(std::string address);
  // Stops the sampler and cancels a running retry (its dead letters are kept). Idempotent.
  void stop();

  // Answers a request to one of the dashboard's paths (see handles()). Any thread.
  void handle(http::Request&& request, http::Responder respond);
  // True for the paths handle() answers: routes() and /api/destinations/...
  static bool handles(std::string_view path);
  // The exact paths to register on a router.
  static const std::vector<std::string>& routes();

  // The JSON documents of the API, also for tests.
  std::string summaryJson();
  // nullopt when there is no such destination.
  std::optional<std::string> seriesJson(std::string_view destination, EpochMs sinceMs);

  // One sample now (what the sampler thread does periodically).
  void sampleNow();

 private:
  http::Response route(const http::Request& request);
  http::Response destinationRoute(const http::Request& request);
  http::Response login(const http::Request& request);
  http::Response deadLetters(const config::DestinationConfig& destination,
                             const http::Request& request);
  http::Response retry(const config::DestinationConfig& destination, const http::Request& request);
  std::string retriesJson() const;
  std::optional<config::DestinationConfig> destination(std::string_view name) const;
  void countReceived();
  void samplerLoop();

  store::EventLog& log_;
  delivery::DeliveryService& delivery_;
  const Clock& clock_;
  const DashboardOptions options_;
  DashboardProviders providers_;
  ThroughputHistory history_;
  http::AdminThrottle& throttle_;

  mutable std::mutex configMutex_;
  config::Config config_;      // GUARDED_BY(configMutex_)
  std::string listenAddress_;  // GUARDED_BY(configMutex_); empty: not told, show server.listen

  std::mutex sampleMutex_;  // one sample at a time, so snapshots are recorded in order
  std::mutex receivedMutex_;
  store::Seq countedSeq_ = 0;                         // GUARDED_BY(receivedMutex_)
  std::map<std::string, uint64_t> receivedBySource_;  // GUARDED_BY(receivedMutex_)
  std::map<std::string, uint64_t> storedAtStart_;     // providers_.storedBySource() at start()
  EpochMs countingSinceMs_ = 0;                       // GUARDED_BY(receivedMutex_)

  std::unique_ptr<DlqRetrier> retrier_;
  std::mutex stopMutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(stopMutex_)
  std::thread sampler_;
};

// Registers the dashboard's routes on `router`, each forwarding to `target()` (503 while it
// returns null, i.e. before the dashboard started), and chains the router's fallback so that
// /api/destinations/NAME/... reaches the dashboard too.
void addDashboardRoutes(http::Router& router, std::function<Dashboard*()> target);

}  // namespace sluice::ops::dashboard
