#include "ops/dashboard/throughput_history.h"

#include <algorithm>

namespace sluice::ops::dashboard {
namespace {

EpochMs minuteOf(EpochMs ms) { return ms - ((ms % kMinuteMs) + kMinuteMs) % kMinuteMs; }

uint64_t growth(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

}  // namespace

void ThroughputHistory::sample(EpochMs nowMs,
                               const std::map<std::string, delivery::DispatcherStats>& stats) {
  const EpochMs minute = minuteOf(nowMs);
  std::lock_guard lock(mutex_);
  for (const auto& [name, current] : stats) {
    auto [it, fresh] = destinations_.try_emplace(name);
    Destination& d = it->second;
    if (fresh) d.firstSampleMs = minute;
    if (d.minutes.empty() || d.minutes.back().startMs < minute) {
      d.minutes.push_back(Minute{minute, {}, 0});
    }
    // A clock that went back puts the growth in the latest minute rather than reorder the list.
    Minute& bucket = d.minutes.back();
    for (const auto& [event, counts] : current.byEventName) {
      const delivery::EventNameCounts& before = d.previous.byEventName[event];
      MinuteCounts& into = bucket.byEventName[event];
      into.mapped += growth(counts.mapped, before.mapped);
      into.delivered += growth(counts.delivered, before.delivered);
      into.dead += growth(counts.dead, before.dead);
    }
    bucket.retryReplies += growth(current.retryReplies, d.previous.retryReplies);
    d.previous.byEventName = current.byEventName;
    d.previous.retryReplies = current.retryReplies;
    const EpochMs oldest = minute - static_cast<EpochMs>(maxMinutes_ - 1) * kMinuteMs;
    while (!d.minutes.empty() && d.minutes.front().startMs < oldest) d.minutes.pop_front();
  }
}

ThroughputSeries ThroughputHistory::series(std::string_view destination, EpochMs sinceMs,
                                           EpochMs nowMs) const {
  ThroughputSeries out;
  std::lock_guard lock(mutex_);
  auto it = destinations_.find(destination);
  if (it == destinations_.end()) return out;
  const Destination& d = it->second;
  const EpochMs last = std::max(minuteOf(nowMs), d.minutes.empty() ? 0 : d.minutes.back().startMs);
  EpochMs first = std::max(minuteOf(sinceMs), d.firstSampleMs);
  first = std::max(first, last - static_cast<EpochMs>(maxMinutes_ - 1) * kMinuteMs);
  if (first > last) first = last;
  const size_t count = static_cast<size_t>((last - first) / kMinuteMs) + 1;
  out.minutes.reserve(count);
  for (size_t i = 0; i < count; ++i)
    out.minutes.push_back(first + static_cast<EpochMs>(i) * kMinuteMs);
  out.retryReplies.assign(count, 0);
  for (const Minute& m : d.minutes) {
    if (m.startMs < first || m.startMs > last) continue;
    const size_t index = static_cast<size_t>((m.startMs - first) / kMinuteMs);
    out.retryReplies[index] = m.retryReplies;
    for (const auto& [event, counts] : m.byEventName) {
      auto [series, added] = out.byEventName.try_emplace(event);
      if (added) series->second.assign(count, MinuteCounts{});
      series->second[index] = counts;
    }
  }
  return out;
}

uint64_t ThroughputHistory::retryRepliesSince(std::string_view destination, EpochMs sinceMs) const {
  std::lock_guard lock(mutex_);
  auto it = destinations_.find(destination);
  if (it == destinations_.end()) return 0;
  uint64_t total = 0;
  for (const Minute& m : it->second.minutes) {
    if (m.startMs + kMinuteMs > sinceMs) total += m.retryReplies;
  }
  return total;
}

}  // namespace sluice::ops::dashboard
