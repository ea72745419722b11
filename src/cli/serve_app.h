// The running `sluice serve` process as one object: the event log, delivery (one dispatcher per
// destination), the ingestion API, the HTTP server with /healthz and /readyz, and periodic
// retention. start(), reload() and stop() are the only transitions; the ops parts (metrics,
// alerts, dashboard...) hook in through addRoutes(), addComponent() and the accessors.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/result.h"
#include "http/server.h"
#include "store/event_log.h"

namespace sluice::ingest {
class Api;
class IngestProbe;
}  // namespace sluice::ingest
namespace sluice::delivery {
class DeliveryService;
class DispatcherListener;
}  // namespace sluice::delivery

namespace sluice::cli {

// "127.0.0.1:8080", "[::1]:0", "0.0.0.0:80", ":8080" (all interfaces) into host and port.
Result<std::pair<std::string, uint16_t>> parseListenAddress(std::string_view text);

class ServeApp {
 public:
  // `clock` must outlive the app.
  explicit ServeApp(config::Config config, const Clock& clock = SystemClock::instance());
  ~ServeApp();  // stop()s

  ServeApp(const ServeApp&) = delete;
  ServeApp& operator=(const ServeApp&) = delete;

  // Registers extra routes (metrics, admin, ...) added to the router at start(). Before start().
  void addRoutes(std::function<void(http::Router&)> add);

  // A part of the server with its own lifetime (metrics sampler, alerts, canary...). `start` runs
  // after the log and delivery are up and before the listener binds (so it may use log(),
  // delivery()); a failure aborts start(). `reload` runs on SIGHUP with the new configuration;
  // `stop` runs first thing in stop(), in reverse order of registration. `listening` runs once the
  // listener is bound, with its address as config::formatListen() writes it but with the bound
  // port ("127.0.0.1:41234" when server.listen asked for port 0), before start() returns. Any may
  // be empty.
  struct Component {
    std::string name;
    std::function<Result<void>()> start;
    std::function<void(const config::Config&)> reload;
    std::function<void()> stop;
    std::function<void(const std::string& address)> listening;
  };
  void addComponent(Component component);

  // Hooks kept by pointer (must outlive the app), installed at start(): ingestion metrics and the
  // dispatchers' pause/resume listener. Before start().
  void setIngestProbe(ingest::IngestProbe* probe) { ingestProbe_ = probe; }
  void setDispatcherListener(delivery::DispatcherListener* listener) { listener_ = listener; }

  // Opens the event log, starts delivery (which registers every destination's cursor), runs
  // retention once, starts the components, binds and starts serving, and starts the hourly
  // retention thread. On error nothing is left running.
  Result<void> start();

  // Applies a reloaded configuration (SIGHUP): delivery takes new tokens, settings and
  // destinations; components get reload(). Listener, storage and sources apply at the next
  // restart. After start().
  Result<void> reload(const config::Config& config);

  // The bound address ("127.0.0.1:PORT") and port, after start().
  std::string address() const;
  uint16_t port() const;

  // The event log and delivery (after start()), for the ops parts.
  store::EventLog& log();
  delivery::DeliveryService& delivery();
  // The configuration in force: the one started with, destinations updated by reload(). Read it
  // only from the thread that calls reload() (serve's main thread) or before start().
  const config::Config& config() const { return config_; }
  const Clock& clock() const { return clock_; }

  // Deletes events older than storage.retention that every cursor has passed. Returns how many.
  Result<uint64_t> runRetention();

  // Graceful stop: stops the components, stops accepting, lets in-flight requests finish
  // (bounded), stops retention and delivery, then closes the log (completing queued appends,
  // flushing). Idempotent.
  void stop();

  static constexpr int64_t kRetentionIntervalMs = 3'600'000;

 private:
  void retentionLoop();
  void stopEverything();  // the stop sequence; also undoes a start() that failed half way

  config::Config config_;
  const Clock& clock_;
  std::vector<std::function<void(http::Router&)>> routeHooks_;
  std::vector<Component> components_;
  size_t componentsStarted_ = 0;
  ingest::IngestProbe* ingestProbe_ = nullptr;
  delivery::DispatcherListener* listener_ = nullptr;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<delivery::DeliveryService> delivery_;
  std::unique_ptr<ingest::Api> api_;
  std::unique_ptr<http::Server> server_;
  std::thread retention_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  bool stopped_ = false;
};

}  // namespace sluice::cli
