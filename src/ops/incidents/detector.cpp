#include "ops/incidents/detector.h"

#include <algorithm>
#include <utility>

#include "core/time.h"

namespace sluice::ops::incidents {
namespace {

// A cumulative counter's growth; a smaller value means the dispatcher restarted (reload).
uint64_t growth(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

bool isSuccess(const std::string& key) { return key == "0" || key == "20001"; }

std::string describeBacklog(const DestinationSample& sample) {
  if (sample.backlogEvents == 0) return "no backlog";
  return "backlog " + std::to_string(sample.backlogEvents) + " events, oldest " +
         humanDuration(sample.oldestAgeMs) + " old";
}

}  // namespace

void IncidentDetector::Delta::addTo(Incident& incident) const {
  for (const auto& [key, count] : codes) incident.codes[key] += count;
  incident.itemsDelayed += delivered;
  incident.itemsDead += dead;
  incident.itemsExpired += expired;
}

void IncidentDetector::Delta::add(const Delta& other) {
  for (const auto& [key, count] : other.codes) codes[key] += count;
  delivered += other.delivered;
  dead += other.dead;
  expired += other.expired;
}

IncidentDetector::IncidentDetector(IncidentStore& store, config::IncidentsConfig settings)
    : store_(store), settings_(settings) {}

Result<void> IncidentDetector::resume(EpochMs nowMs) {
  auto open = store_.openIncidents();
  if (!open) return fail(open.error());
  for (Incident& incident : *open) {
    Track& track = tracks_[incident.destination];
    std::string text = "sluice started again (last sample before the stop: ";
    text += formatIsoTime(incident.lastSampleMs);
    text += "); incident continued";
    incident.timeline.push_back(TimelineEntry{nowMs, std::move(text)});
    track.storedTimeline = incident.timeline.size() - 1;
    track.reasonKinds.assign(incident.state == IncidentState::kDegraded ? 1 : 0, '?');
    track.open = std::move(incident);
    if (auto r = save(track); !r) return r;
  }
  return ok();
}

std::vector<Incident> IncidentDetector::openIncidents() const {
  std::vector<Incident> out;
  for (const auto& [name, track] : tracks_) {
    if (track.open) out.push_back(*track.open);
  }
  std::sort(out.begin(), out.end(),
            [](const Incident& a, const Incident& b) { return a.startMs < b.startMs; });
  return out;
}

Result<void> IncidentDetector::save(Track& track) {
  Incident& incident = *track.open;
  if (incident.id == 0) {
    auto id = store_.insert(incident);
    if (!id) return fail(id.error());
    incident.id = *id;
  } else if (auto r = store_.update(incident, track.storedTimeline); !r) {
    return r;
  }
  track.storedTimeline = incident.timeline.size();
  return ok();
}

std::pair<std::string, std::string> IncidentDetector::degradation(const DestinationSample& sample,
                                                                  uint64_t retryReplies) const {
  std::string text;
  std::string kinds;
  auto add = [&](std::string kind, const std::string& what) {
    if (!text.empty()) text += "; ";
    text += what;
    kinds += kind + ' ';
  };
  const auto& stats = sample.stats;
  if (stats.paused) {
    add("paused", "paused" + (stats.pauseReason.empty() ? "" : " (" + stats.pauseReason + ")"));
  }
  if (stats.breaker != delivery::BreakerState::kClosed &&
      stats.breaker != delivery::BreakerState::kPaused) {
    add("breaker", std::string("circuit breaker ") + delivery::breakerStateName(stats.breaker));
  }
  if (retryReplies > 0) {
    add("retries", std::to_string(retryReplies) + " replies to retry since the previous sample");
  }
  if (sample.backlogEvents > 0 && sample.oldestAgeMs > settings_.backlogAgeThresholdMs) {
    add("age", "oldest undelivered event " + humanDuration(sample.oldestAgeMs) + " old (over " +
                   humanDuration(settings_.backlogAgeThresholdMs) + ")");
  }
  return {text, kinds};
}

Result<void> IncidentDetector::observe(EpochMs nowMs,
                                       const std::map<std::string, DestinationSample>& samples) {
  for (const auto& [destination, sample] : samples) {
    if (auto r = observeOne(tracks_[destination], destination, nowMs, sample); !r) return r;
  }
  for (auto it = tracks_.begin(); it != tracks_.end();) {
    Track& track = it->second;
    if (samples.count(it->first) != 0) {
      ++it;
      continue;
    }
    if (track.open) {
      Incident& incident = *track.open;
      incident.state = IncidentState::kClosed;
      incident.endMs = nowMs;
      incident.lastSampleMs = nowMs;
      if (incident.recoveredMs != 0) incident.drainMs = nowMs - incident.recoveredMs;
      incident.timeline.push_back(
          TimelineEntry{nowMs, "the destination no longer delivers (removed or disabled); closed"});
      if (auto r = save(track); !r) return r;
    }
    it = tracks_.erase(it);
  }
  return ok();
}

Result<void> IncidentDetector::observeOne(Track& track, const std::string& destination,
                                          EpochMs nowMs, const DestinationSample& sample) {
  const auto& stats = sample.stats;
  // What happened since the previous sample (nothing is known on the first one).
  Delta delta;
  uint64_t retryReplies = 0;
  if (track.previous) {
    const Counters& before = *track.previous;
    for (const auto& [key, count] : stats.replies) {
      if (isSuccess(key)) continue;
      const auto it = before.replies.find(key);
      const uint64_t grown = growth(count, it == before.replies.end() ? 0 : it->second);
      if (grown > 0) delta.codes[key] = grown;
    }
    delta.delivered = growth(stats.itemsDelivered, before.delivered);
    delta.dead = growth(stats.itemsDead, before.dead);
    delta.expired = growth(stats.itemsExpired, before.expired);
    retryReplies = growth(stats.retryReplies, before.retryReplies);
  }
  track.previous = Counters{stats.replies, stats.itemsDelivered, stats.itemsDead,
                            stats.itemsExpired, stats.retryReplies};

  const auto [reasons, kinds] = degradation(sample, retryReplies);
  const bool degraded = !reasons.empty();
  auto noteBacklog = [&](Incident& incident) {
    incident.maxBacklogEvents = std::max(incident.maxBacklogEvents, sample.backlogEvents);
    incident.maxBacklogAgeMs = std::max(incident.maxBacklogAgeMs, sample.oldestAgeMs);
    incident.lastSampleMs = nowMs;
  };

  if (!track.open) {
    if (!degraded) {
      if (track.degradedRun == 0) return ok();
      if (++track.healthyGap >= settings_.closeAfter) {
        track.degradedRun = 0;
        track.healthyGap = 0;
        return ok();
      }
      delta.addTo(track.pending);
      noteBacklog(track.pending);
      return ok();
    }
    track.healthyGap = 0;
    if (track.degradedRun == 0) {
      track.pending = Incident{};
      track.pending.destination = destination;
      track.pending.startMs = nowMs;
      track.pending.timeline.push_back(
          TimelineEntry{nowMs, "degraded: " + reasons + "; " + describeBacklog(sample)});
      track.reasonKinds = kinds;
    }
    ++track.degradedRun;
    delta.addTo(track.pending);
    noteBacklog(track.pending);
    if (track.degradedRun < settings_.openAfter) return ok();
    track.open = std::move(track.pending);
    track.pending = Incident{};
    track.degradedRun = 0;
    track.healthyGap = 0;
    track.drainedRun = 0;
    track.storedTimeline = 0;
    track.open->state = IncidentState::kDegraded;
    return save(track);
  }

  Incident& incident = *track.open;
  noteBacklog(incident);
  if (degraded) {
    if (track.drainedRun > 0) delta.add(track.afterDrained);
    track.drainedRun = 0;
    track.afterDrained = Delta{};
    delta.addTo(incident);
    if (incident.state != IncidentState::kDegraded) {
      incident.state = IncidentState::kDegraded;
      incident.recoveredMs = 0;
      incident.timeline.push_back(
          TimelineEntry{nowMs, "degraded again: " + reasons + "; " + describeBacklog(sample)});
    } else if (kinds != track.reasonKinds) {
      incident.timeline.push_back(
          TimelineEntry{nowMs, "now: " + reasons + "; " + describeBacklog(sample)});
    }
    track.reasonKinds = kinds;
    return save(track);
  }

  track.reasonKinds.clear();
  if (incident.state == IncidentState::kDegraded) {
    incident.state = IncidentState::kDraining;
    incident.recoveredMs = nowMs;
    incident.timeline.push_back(
        TimelineEntry{nowMs, "delivery healthy again; " + describeBacklog(sample)});
  }
  const bool drained = sample.backlogEvents == 0 || sample.oldestAgeMs <= settings_.drainedAgeMs;
  if (!drained) {
    if (track.drainedRun > 0) delta.add(track.afterDrained);
    track.drainedRun = 0;
    track.afterDrained = Delta{};
    delta.addTo(incident);
    return save(track);
  }
  if (track.drainedRun == 0) {
    // The interval that ended with the drain still belongs to the incident.
    delta.addTo(incident);
    track.drainedSinceMs = nowMs;
  } else {
    track.afterDrained.add(delta);
  }
  ++track.drainedRun;
  if (track.drainedRun < settings_.closeAfter) return save(track);
  incident.state = IncidentState::kClosed;
  incident.endMs = track.drainedSinceMs;
  incident.drainMs = incident.endMs - incident.recoveredMs;
  incident.timeline.push_back(
      TimelineEntry{incident.endMs, "backlog drained (" + humanDuration(incident.drainMs) +
                                        " after recovery); closed after " +
                                        std::to_string(track.drainedRun) + " healthy samples"});
  incident.lastSampleMs = nowMs;
  Result<void> saved = save(track);
  track.open.reset();
  track.drainedRun = 0;
  track.afterDrained = Delta{};
  return saved;
}

}  // namespace sluice::ops::incidents
