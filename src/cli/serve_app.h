// The running `sluice serve` process as one object: the event log, the ingestion API, the HTTP
// server with /healthz and /readyz, and periodic retention. start() and stop() are the only two
// transitions; later parts (delivery, ops) hook in through addRoutes() and the accessors.
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
}

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

  // Opens the event log, builds the ingestion API, runs retention once, binds and starts serving,
  // and starts the hourly retention thread. On error nothing is left running.
  Result<void> start();

  // The bound address ("127.0.0.1:PORT") and port, after start().
  std::string address() const;
  uint16_t port() const;

  // The event log (after start()), for parts added later.
  store::EventLog& log();
  const config::Config& config() const { return config_; }

  // Deletes events older than storage.retention that every cursor has passed. Returns how many.
  Result<uint64_t> runRetention();

  // Graceful stop: stops accepting, lets in-flight requests finish (bounded), stops retention,
  // then closes the log (completing queued appends, flushing). Idempotent.
  void stop();

  static constexpr int64_t kRetentionIntervalMs = 3'600'000;

 private:
  void retentionLoop();

  config::Config config_;
  const Clock& clock_;
  std::vector<std::function<void(http::Router&)>> routeHooks_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<ingest::Api> api_;
  std::unique_ptr<http::Server> server_;
  std::thread retention_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  bool stopped_ = false;
};

}  // namespace sluice::cli
