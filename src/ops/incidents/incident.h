// The records of the incident log: periods of degraded delivery of one destination, their
// timelines, and the results of canary events. Plain values; see incident_store.h for where they
// are kept and README.md for how an incident is detected.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/clock.h"

namespace sluice::ops::incidents {

// One dated line of an incident's timeline ("degraded: circuit breaker open; 3 retried replies").
struct TimelineEntry {
  EpochMs timeMs = 0;
  std::string text;  // never contains a secret (pause reasons carry codes and TikTok's message)
};

enum class IncidentState {
  kDegraded,  // delivery is degraded now
  kDraining,  // delivery is healthy again; the backlog has not drained yet
  kClosed,    // healthy and drained
};
const char* incidentStateName(IncidentState state);  // "degraded", "draining", "closed"

struct Incident {
  int64_t id = 0;  // assigned by the store
  std::string destination;
  IncidentState state = IncidentState::kDegraded;
  EpochMs startMs = 0;  // the first degraded sample of the run that opened it
  EpochMs recoveredMs =
      0;              // the first healthy sample after the last degraded one; 0 while degraded
  EpochMs endMs = 0;  // when the backlog had drained (the first healthy, drained sample)
  EpochMs lastSampleMs = 0;
  int64_t drainMs = 0;  // endMs - recoveredMs once closed: how long the backlog took to drain
  // Replies other than success ("0", "20001") seen during it, by DispatcherStats::replies key:
  // TikTok's code, "http_<status>" or the transport error ("timeout", "connect"...).
  std::map<std::string, uint64_t> codes;
  // Events delayed, approximated as the TikTok items delivered between start and end (every item
  // delivered then had waited behind the failure or the backlog it left).
  uint64_t itemsDelayed = 0;
  uint64_t itemsDead = 0;               // dead-lettered between start and end
  uint64_t itemsExpired = 0;            // expired (too old to send) between start and end
  uint64_t maxBacklogEvents = 0;        // the largest backlog sampled (log events after the cursor)
  int64_t maxBacklogAgeMs = 0;          // the oldest undelivered event's largest age sampled
  std::vector<TimelineEntry> timeline;  // oldest first

  bool open() const { return state != IncidentState::kClosed; }
  // endMs, or `nowMs` while open, minus startMs.
  int64_t durationMs(EpochMs nowMs) const { return (open() ? nowMs : endMs) - startMs; }
};

// A duration for people: "850ms", "4.2s", "3m 05s", "2h 04m", "3d 02h".
std::string humanDuration(int64_t ms);

// The result of one canary event.
struct CanaryResult {
  int64_t id = 0;  // assigned by the store
  std::string destination;
  EpochMs timeMs = 0;  // when it was sent
  bool ok = false;     // TikTok accepted it
  // The verdict as delivery would judge the reply: "delivered", "retry", "pause", "dead".
  std::string verdict;
  // The reply's key as in DispatcherStats::replies: TikTok's code ("0", "40105"), "http_<status>",
  // or the transport error ("timeout", "connect", ...).
  std::string code;
  std::string message;  // TikTok's message or the error description; never a secret
  int64_t latencyMs = 0;
};

}  // namespace sluice::ops::incidents
