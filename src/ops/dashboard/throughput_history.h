// Events per minute for the dashboard's charts, kept in memory: each sample() adds the growth of
// every destination's cumulative DispatcherStats counters (items mapped, delivered and dead per
// TikTok event name; replies judged "retry") to the minute the sample falls in. Sampled
// periodically by the dashboard, and before each read, so the charts are right from the first
// minute after a start. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "delivery/dispatcher.h"

namespace sluice::ops::dashboard {

inline constexpr int64_t kMinuteMs = 60'000;

struct MinuteCounts {
  uint64_t mapped = 0;  // items built from received events (the "received" line of the charts)
  uint64_t delivered = 0;
  uint64_t dead = 0;
};

// One destination's minutes from `minutes.front()` to `minutes.back()` (every minute, zeros
// included), each series as long as `minutes`.
struct ThroughputSeries {
  std::vector<EpochMs> minutes;  // start of each minute
  std::map<std::string, std::vector<MinuteCounts>> byEventName;
  std::vector<uint64_t> retryReplies;
};

class ThroughputHistory {
 public:
  // Keeps at most `maxMinutes` minutes per destination (older ones are dropped).
  explicit ThroughputHistory(size_t maxMinutes = 1440) : maxMinutes_(maxMinutes) {}

  // Adds what grew since the previous sample of each destination (from zero at its first sample:
  // the counters count from the dispatcher's start) to the minute of `nowMs`. A counter that went
  // down (the dispatcher was restarted by a reload) counts from zero again.
  void sample(EpochMs nowMs, const std::map<std::string, delivery::DispatcherStats>& stats);

  // The minutes of `destination` from the one holding `sinceMs` (at most maxMinutes back, and not
  // before the first sample) to the one holding `nowMs`. Empty when the destination was never
  // sampled.
  ThroughputSeries series(std::string_view destination, EpochMs sinceMs, EpochMs nowMs) const;

  // Replies judged "retry" recorded in the minutes that end after `sinceMs`.
  uint64_t retryRepliesSince(std::string_view destination, EpochMs sinceMs) const;

 private:
  struct Minute {
    EpochMs startMs = 0;
    std::map<std::string, MinuteCounts> byEventName;
    uint64_t retryReplies = 0;
  };
  struct Previous {
    std::map<std::string, delivery::EventNameCounts> byEventName;
    uint64_t retryReplies = 0;
  };
  struct Destination {
    Previous previous;
    std::deque<Minute> minutes;  // ascending startMs
    EpochMs firstSampleMs = 0;
  };

  const size_t maxMinutes_;
  mutable std::mutex mutex_;
  std::map<std::string, Destination, std::less<>> destinations_;  // GUARDED_BY(mutex_)
};

}  // namespace sluice::ops::dashboard
