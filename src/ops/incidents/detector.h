// Incident detection: turns periodic samples of every destination's delivery (DispatcherStats and
// the backlog behind its cursor) into incidents, kept in an IncidentStore. Pure logic over the
// samples it is given and the times they carry; IncidentMonitor (monitor.h) takes the samples.
//
// A sample is *degraded* when the destination is paused, its circuit breaker is not closed, replies
// judged "retry" arrived since the previous sample, or its oldest undelivered event is older than
// backlogAgeThresholdMs. `openAfter` degraded samples open an incident dated from the first of
// them, unless `closeAfter` healthy samples in a row come between them (so one failed request,
// which shows in one sample only, makes no incident; a retry waiting out its backoff in a
// healthy-looking sample does not split an outage). It
// stays open while degraded; once healthy it is "draining" until the backlog has drained (no
// undelivered event older than drainedAgeMs), and closes after `closeAfter` consecutive healthy,
// drained samples, its end dated at the first of them. Degraded again before that: the same
// incident continues.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "delivery/dispatcher.h"
#include "ops/incidents/incident.h"
#include "ops/incidents/incident_store.h"

namespace sluice::ops::incidents {

// One destination at one instant.
struct DestinationSample {
  delivery::DispatcherStats stats;
  uint64_t backlogEvents = 0;  // log.lastSeq() - stats.committedSeq
  int64_t oldestAgeMs = 0;     // age of the oldest undelivered event; 0 when there is none
};

// Not thread-safe: one caller (the monitor's thread) at a time.
class IncidentDetector {
 public:
  // `store` must outlive the detector.
  IncidentDetector(IncidentStore& store, config::IncidentsConfig settings);

  // Continues the incidents the store holds open (after a restart): each gets a timeline line and
  // is judged again from the next sample on (its figures keep growing; the counters' first sample
  // after a restart is only a baseline). Call once, before the first observe().
  Result<void> resume(EpochMs nowMs);

  // One sample of every destination delivering now, taken at `nowMs`. A destination with an open
  // incident that no longer appears (removed or disabled) has it closed at `nowMs`. Changes are
  // written to the store before this returns.
  Result<void> observe(EpochMs nowMs, const std::map<std::string, DestinationSample>& samples);

  void setSettings(const config::IncidentsConfig& settings) { settings_ = settings; }

  // The incidents open now (a copy).
  std::vector<Incident> openIncidents() const;

 private:
  struct Counters {
    std::map<std::string, uint64_t> replies;
    uint64_t delivered = 0;
    uint64_t dead = 0;
    uint64_t expired = 0;
    uint64_t retryReplies = 0;
  };
  // What happened during one sample interval.
  struct Delta {
    std::map<std::string, uint64_t> codes;  // non-success replies
    uint64_t delivered = 0;
    uint64_t dead = 0;
    uint64_t expired = 0;
    void addTo(Incident& incident) const;
    void add(const Delta& other);
  };
  struct Track {
    std::optional<Counters> previous;  // none before the first sample (or after a restart)
    // Before an incident opens: degraded samples seen since the run began, and the healthy ones
    // since the last degraded one (closeAfter of them in a row end the run without an incident).
    int degradedRun = 0;
    int healthyGap = 0;
    Incident pending;    // the figures of that run (not stored)
    int drainedRun = 0;  // consecutive healthy, drained samples of an open incident
    EpochMs drainedSinceMs = 0;
    Delta afterDrained;  // what happened after drainedSinceMs (dropped if the incident closes)
    std::optional<Incident> open;
    size_t storedTimeline = 0;  // timeline entries of `open` already in the store
    std::string reasonKinds;    // the kinds of degradation last noted on the timeline
  };

  Result<void> observeOne(Track& track, const std::string& destination, EpochMs nowMs,
                          const DestinationSample& sample);
  // Why the sample is degraded: a human-readable list (empty when healthy) and its kinds.
  std::pair<std::string, std::string> degradation(const DestinationSample& sample,
                                                  uint64_t retryReplies) const;
  Result<void> save(Track& track);

  IncidentStore& store_;
  config::IncidentsConfig settings_;
  std::map<std::string, Track> tracks_;
};

}  // namespace sluice::ops::incidents
