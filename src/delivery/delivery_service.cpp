#include "delivery/delivery_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "delivery/tiktok_codec.h"

namespace sluice::delivery {

DispatcherOptions dispatcherOptions(const config::DestinationConfig& d) {
  DispatcherOptions o;
  o.destination = d.name;
  o.maxEvents = d.batch.maxEvents;
  o.lingerMs = d.batch.lingerMs;
  o.mapThreads = d.batch.mapThreads > 0
                     ? static_cast<size_t>(d.batch.mapThreads)
                     : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  o.maxEventAgeMs = d.maxEventAgeMs;
  o.maxRequestsPerSecond = d.flow.maxRequestsPerSecond;
  o.maxEventsPerSecond = d.flow.maxEventsPerSecond;
  o.initialConcurrency = d.flow.initialConcurrency;
  o.minConcurrency = d.flow.minConcurrency;
  o.maxConcurrency = d.flow.maxConcurrency;
  o.backoffBaseMs = d.flow.backoffBaseMs;
  o.backoffCapMs = d.flow.backoffCapMs;
  o.retryBudgetRatio = d.flow.retryBudgetRatio;
  o.requestTimeoutMs = d.flow.requestTimeoutMs;
  o.breakerFailureThreshold = d.flow.breakerFailureThreshold;
  o.breakerProbeIntervalMs = d.flow.breakerProbeIntervalMs;
  o.pausedProbeIntervalMs = d.flow.pausedProbeIntervalMs;
  // Enough items outstanding to keep every allowed request full, within a fixed memory bound.
  o.maxOutstandingItems =
      std::clamp<size_t>(static_cast<size_t>(std::max(1, d.batch.maxEvents)) *
                             static_cast<size_t>(std::max(4, d.flow.maxConcurrency) + 2),
                         2'000, 40'000);
  return o;
}

DeliveryService::DeliveryService(store::EventLog& log, const Clock& clock)
    : log_(log), clock_(clock) {}

DeliveryService::~DeliveryService() { stop(); }

Result<DeliveryService::Running> DeliveryService::startOne(const config::DestinationConfig& d) {
  auto codec = makeTikTokCodec(d);
  if (!codec) return fail(codec.error());
  // Register the cursor at once so that retention holds the destination's events from now on.
  auto cursor = log_.cursor(d.name);
  if (!cursor) return fail(cursor.error());
  if (*cursor == 0) {
    if (auto r = log_.setCursor(d.name, 0); !r) return fail(r.error());
  }
  auto feed = LogFeed::open(log_, d.name);
  if (!feed) return fail(feed.error());
  Running r;
  HttpClientOptions clientOptions;
  clientOptions.connectTimeout = std::chrono::milliseconds(d.flow.connectTimeoutMs);
  r.client = makeBeastHttpClient(clientOptions);
  r.random = std::make_unique<DefaultRandom>();
  r.dispatcher =
      std::make_unique<Dispatcher>(dispatcherOptions(d), std::move(*codec), std::move(*feed),
                                   *r.client, *state_, clock_, *r.random, listener_);
  r.dispatcher->start();
  spdlog::info("delivery {}: started at cursor {}", d.name, *cursor);
  return r;
}

Result<void> DeliveryService::start(const config::Config& config) {
  auto state = store::openSqliteDeliveryState(config.storage.path, clock_);
  if (!state) return fail(state.error());
  state_ = std::move(*state);
  for (const auto& d : config.destinations) {
    if (!d.enabled) continue;
    auto running = startOne(d);
    if (!running) {
      stop();
      return fail(running.error().code, "destination " + d.name + ": " + running.error().message);
    }
    std::lock_guard lock(mutex_);
    running_.emplace(d.name, std::move(*running));
  }
  return ok();
}

Result<void> DeliveryService::reload(const config::Config& config) {
  std::string errors;
  std::map<std::string, Running> stopped;
  {
    std::lock_guard lock(mutex_);
    for (auto it = running_.begin(); it != running_.end();) {
      const auto* d = config.findDestination(it->first);
      if (d == nullptr || !d->enabled) {
        stopped.emplace(it->first, std::move(it->second));
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [name, r] : stopped) {
    r.dispatcher->stop();
    spdlog::info("delivery {}: stopped (removed or disabled)", name);
  }
  for (const auto& d : config.destinations) {
    if (!d.enabled) continue;
    std::unique_lock lock(mutex_);
    auto it = running_.find(d.name);
    if (it != running_.end()) {
      auto codec = makeTikTokCodec(d);
      if (!codec) {
        errors += "destination " + d.name + ": " + codec.error().message + "\n";
        continue;
      }
      it->second.dispatcher->reconfigure(dispatcherOptions(d), std::move(*codec));
      continue;
    }
    lock.unlock();
    auto running = startOne(d);
    if (!running) {
      errors += "destination " + d.name + ": " + running.error().message + "\n";
      continue;
    }
    lock.lock();
    running_.emplace(d.name, std::move(*running));
  }
  if (!errors.empty()) {
    errors.pop_back();
    return fail(ErrorCode::kInvalidArgument, errors);
  }
  return ok();
}

void DeliveryService::stop() {
  std::map<std::string, Running> all;
  {
    std::lock_guard lock(mutex_);
    all.swap(running_);
  }
  for (auto& [name, r] : all) r.dispatcher->stop();
}

std::map<std::string, DispatcherStats> DeliveryService::stats() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, DispatcherStats> out;
  for (const auto& [name, r] : running_) out.emplace(name, r.dispatcher->stats());
  return out;
}

}  // namespace sluice::delivery
