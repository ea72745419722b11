#include "cli/serve_app.h"

#include <spdlog/spdlog.h>

#include <charconv>

#include "core/thread_name.h"
#include "delivery/delivery_service.h"
#include "ingest/api.h"
#include "store/sqlite_log.h"

namespace sluice::cli {

Result<std::pair<std::string, uint16_t>> parseListenAddress(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(ErrorCode::kInvalidArgument,
                  "expected [IPv6]:PORT, got '" + std::string(text) + "'");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return fail(ErrorCode::kInvalidArgument,
                  "expected HOST:PORT, got '" + std::string(text) + "'");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return fail(ErrorCode::kInvalidArgument, "bad port in '" + std::string(text) + "'");
  }
  std::string hostText = host.empty() ? "0.0.0.0" : std::string(host);
  return std::make_pair(hostText, static_cast<uint16_t>(value));
}

namespace {

http::Response jsonResponse(int status, std::string body) {
  http::Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

std::string jsonQuote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out.push_back(' ');
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace

ServeApp::ServeApp(config::Config config, const Clock& clock)
    : config_(std::move(config)), clock_(clock) {}

ServeApp::~ServeApp() { stop(); }

void ServeApp::addRoutes(std::function<void(http::Router&)> add) {
  routeHooks_.push_back(std::move(add));
}

void ServeApp::addComponent(Component component) { components_.push_back(std::move(component)); }

Result<void> ServeApp::start() {
  store::SqliteLogOptions logOptions;
  logOptions.directory = config_.storage.path;
  logOptions.minFreeBytes = config_.storage.minFreeBytes;
  logOptions.dedupWindowMs = config_.storage.dedupWindowMs;
  logOptions.dedupMaxEvents = static_cast<uint64_t>(config_.storage.dedupMaxEvents);
  logOptions.commitIntervalUs = config_.storage.commitIntervalMs * 1000;
  logOptions.clock = const_cast<Clock*>(&clock_);
  auto log = store::openSqliteLog(logOptions);
  if (!log) {
    return fail(log.error().code, "cannot open the event log in '" + config_.storage.path +
                                      "': " + log.error().message);
  }
  log_ = std::move(*log);
  // Delivery first: it registers every destination's cursor, so retention below keeps what a
  // destination has not finished with.
  delivery_ = std::make_unique<delivery::DeliveryService>(*log_, clock_);
  delivery_->setListener(listener_);
  if (auto started = delivery_->start(config_); !started) {
    delivery_.reset();
    log_->close();
    log_.reset();
    return fail(started.error().code, "cannot start delivery: " + started.error().message);
  }
  api_ = std::make_unique<ingest::Api>(config_, *log_, clock_);
  api_->setProbe(ingestProbe_);

  if (auto removed = runRetention(); removed && *removed > 0) {
    spdlog::info("retention: deleted {} events older than {} ms", *removed,
                 config_.storage.retentionMs);
  }

  http::Router router;
  router.add("/healthz", [](http::Request&&, http::Responder respond) {
    respond(jsonResponse(200, R"({"status":"ok"})"));
  });
  router.add("/readyz", [this](http::Request&&, http::Responder respond) {
    const store::WriteHealth health = log_->writeHealth();
    if (health.writable) return respond(jsonResponse(200, R"({"ready":true})"));
    auto response =
        jsonResponse(503, R"({"ready":false,"reason":)" + jsonQuote(health.reason) + "}");
    if (health.retryAfterMs > 0) {
      response.headers.emplace_back("Retry-After",
                                    std::to_string((health.retryAfterMs + 999) / 1000));
    }
    respond(std::move(response));
  });
  ingest::Api* api = api_.get();
  router.setFallback([api](http::Request&& request, http::Responder respond) {
    // Every ingestion path goes to the API, also with a wrong method (it answers 405).
    if (api->handles(request.method, request.path) || api->handles("POST", request.path)) {
      return api->handle(std::move(request), std::move(respond));
    }
    respond(http::jsonError(404, "no such endpoint: " + request.path));
  });
  for (auto& hook : routeHooks_) hook(router);

  for (auto& component : components_) {
    if (component.start) {
      if (auto started = component.start(); !started) {
        stopEverything();
        return fail(started.error().code,
                    "cannot start " + component.name + ": " + started.error().message);
      }
    }
    ++componentsStarted_;
  }

  http::ServerOptions serverOptions;
  serverOptions.host = config_.server.listenHost;
  serverOptions.port = config_.server.listenPort;
  serverOptions.threads = config_.server.threads;
  auto server = http::Server::start(serverOptions, std::move(router));
  if (!server) {
    stopEverything();
    return fail(server.error());
  }
  server_ = std::move(*server);
  config::ServerConfig bound = config_.server;
  bound.listenPort = server_->port();
  for (auto& component : components_) {
    if (component.listening) component.listening(config::formatListen(bound));
  }
  retention_ = std::thread([this] { retentionLoop(); });
  return ok();
}

std::string ServeApp::address() const { return server_ ? server_->address() : std::string(); }

uint16_t ServeApp::port() const { return server_ ? server_->port() : 0; }

store::EventLog& ServeApp::log() { return *log_; }

delivery::DeliveryService& ServeApp::delivery() { return *delivery_; }

Result<void> ServeApp::reload(const config::Config& config) {
  if (!delivery_) return fail(ErrorCode::kUnavailable, "the server is not running");
  auto reloaded = delivery_->reload(config);
  // Destinations in force: the new ones, also when some failed to compile (those keep running
  // with their old settings; the error says which).
  config_.destinations = config.destinations;
  for (auto& component : components_) {
    if (component.reload) component.reload(config_);
  }
  return reloaded;
}

Result<uint64_t> ServeApp::runRetention() {
  if (!log_) return fail(ErrorCode::kUnavailable, "the event log is not open");
  return log_->applyRetention(clock_.nowMs() - config_.storage.retentionMs);
}

void ServeApp::retentionLoop() {
  nameThisThread("retention");
  std::unique_lock lock(mutex_);
  for (;;) {
    if (wake_.wait_for(lock, std::chrono::milliseconds(kRetentionIntervalMs),
                       [this] { return stopping_; })) {
      return;
    }
    lock.unlock();
    auto removed = runRetention();
    if (!removed) {
      spdlog::warn("retention failed: {}", removed.error().toString());
    } else if (*removed > 0) {
      spdlog::info("retention: deleted {} events", *removed);
    }
    lock.lock();
  }
}

void ServeApp::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopEverything();
}

void ServeApp::stopEverything() {
  while (componentsStarted_ > 0) {
    auto& component = components_[--componentsStarted_];
    if (component.stop) component.stop();
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (server_) server_->stop();  // in-flight requests get their replies (their appends complete)
  if (retention_.joinable()) retention_.join();
  if (delivery_) delivery_->stop();
  if (log_) log_->close();  // completes queued appends and flushes
  server_.reset();          // after close(): late replies of queued appends are ignored safely
  api_.reset();
  delivery_.reset();
  log_.reset();
}

}  // namespace sluice::cli
