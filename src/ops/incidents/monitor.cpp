#include "ops/incidents/monitor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/thread_name.h"

namespace sluice::ops::incidents {

IncidentMonitor::IncidentMonitor(IncidentStore& store, store::EventLog& log, StatsSource stats,
                                 const Clock& clock, config::IncidentsConfig settings)
    : log_(log),
      stats_(std::move(stats)),
      clock_(clock),
      settings_(settings),
      detector_(store, settings) {}

IncidentMonitor::~IncidentMonitor() { stop(); }

Result<DestinationSample> IncidentMonitor::sampleDestination(store::EventLog& log,
                                                             delivery::DispatcherStats stats,
                                                             EpochMs nowMs) {
  DestinationSample sample;
  auto last = log.lastSeq();
  if (!last) return fail(last.error());
  sample.backlogEvents = *last > stats.committedSeq ? *last - stats.committedSeq : 0;
  if (sample.backlogEvents > 0) {
    auto oldest = log.readAfter(stats.committedSeq, 1);
    if (!oldest) return fail(oldest.error());
    if (!oldest->empty()) {
      sample.oldestAgeMs = std::max<int64_t>(0, nowMs - oldest->front().receivedAtMs);
    }
  }
  sample.stats = std::move(stats);
  return sample;
}

Result<void> IncidentMonitor::sampleOnce() {
  std::lock_guard lock(mutex_);
  if (!resumed_) {
    if (auto r = detector_.resume(clock_.nowMs()); !r) return r;
    resumed_ = true;
  }
  detector_.setSettings(settings_);
  const EpochMs now = clock_.nowMs();
  std::map<std::string, DestinationSample> samples;
  for (auto& [name, stats] : stats_()) {
    auto sample = sampleDestination(log_, std::move(stats), now);
    if (!sample) return fail(sample.error());
    samples.emplace(name, std::move(*sample));
  }
  return detector_.observe(now, samples);
}

Result<void> IncidentMonitor::start() {
  {
    std::lock_guard lock(mutex_);
    if (!resumed_) {
      if (auto r = detector_.resume(clock_.nowMs()); !r) return r;
      resumed_ = true;
    }
    stopping_ = false;
  }
  // A first sample at once: the counters' baseline, before the listener takes traffic.
  if (auto r = sampleOnce(); !r) return r;
  if (!thread_.joinable()) thread_ = std::thread([this] { threadMain(); });
  return ok();
}

void IncidentMonitor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IncidentMonitor::reconfigure(const config::IncidentsConfig& settings) {
  std::lock_guard lock(mutex_);
  settings_ = settings;
}

std::vector<Incident> IncidentMonitor::openIncidents() const {
  std::lock_guard lock(mutex_);
  return detector_.openIncidents();
}

void IncidentMonitor::threadMain() {
  nameThisThread("incidents");
  bool failing = false;
  for (;;) {
    int64_t intervalMs;
    {
      std::unique_lock lock(mutex_);
      intervalMs = settings_.sampleIntervalMs;
      if (wake_.wait_for(lock, std::chrono::milliseconds(intervalMs),
                         [this] { return stopping_; })) {
        return;
      }
    }
    auto sampled = sampleOnce();
    if (!sampled && !failing) {
      spdlog::error("incident log: {}", sampled.error().message);
    } else if (sampled && failing) {
      spdlog::info("incident log: sampling works again");
    }
    failing = !sampled;
  }
}

}  // namespace sluice::ops::incidents
