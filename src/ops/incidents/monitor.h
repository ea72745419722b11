// IncidentMonitor: the `sluice serve` component that samples every destination every
// `incidents.sample_interval` (DeliveryService::stats() and the backlog behind each cursor in the
// event log) and feeds an IncidentDetector. Its own thread; sampleOnce() for tests.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/result.h"
#include "delivery/dispatcher.h"
#include "ops/incidents/detector.h"
#include "ops/incidents/incident_store.h"
#include "store/event_log.h"

namespace sluice::ops::incidents {

class IncidentMonitor {
 public:
  // A snapshot of every running dispatcher's counters (DeliveryService::stats()).
  using StatsSource = std::function<std::map<std::string, delivery::DispatcherStats>()>;

  // Everything passed by reference must outlive the monitor.
  IncidentMonitor(IncidentStore& store, store::EventLog& log, StatsSource stats, const Clock& clock,
                  config::IncidentsConfig settings);
  ~IncidentMonitor();  // stop()s
  IncidentMonitor(const IncidentMonitor&) = delete;
  IncidentMonitor& operator=(const IncidentMonitor&) = delete;

  // Continues the incidents left open by the previous run, takes a first sample (the counters'
  // baseline), then samples on its own thread.
  Result<void> start();
  // Joins the thread (open incidents stay open in the store, continued at the next start()).
  void stop();
  // New settings (SIGHUP); applied at the next sample. Thread-safe.
  void reconfigure(const config::IncidentsConfig& settings);

  // Takes one sample now and feeds it to the detector. Not concurrently with the thread.
  Result<void> sampleOnce();

  // The samples' backlog of one destination: events after its cursor and the oldest one's age.
  static Result<DestinationSample> sampleDestination(store::EventLog& log,
                                                     delivery::DispatcherStats stats,
                                                     EpochMs nowMs);

  // The incidents open now.
  std::vector<Incident> openIncidents() const;

 private:
  void threadMain();

  store::EventLog& log_;
  StatsSource stats_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  config::IncidentsConfig settings_;  // GUARDED_BY(mutex_)
  IncidentDetector detector_;         // GUARDED_BY(mutex_) while sampling
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  bool resumed_ = false;
  std::thread thread_;
};

}  // namespace sluice::ops::incidents
