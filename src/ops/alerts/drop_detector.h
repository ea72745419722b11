// Conversion-volume drop detection per destination and TikTok event name. The current rate (items
// received per minute over the last `rateWindowMs` of complete minutes) is compared with a
// baseline learned from the VolumeHistory:
//  - seasonal: the median, over the previous `historyDays` days that have history at that time of
//    day, of the rate at the same time of day (hour rows interpolated between hour centres, so a
//    morning ramp is not mistaken for a drop); used when at least `minHistoryDays` days qualify;
//  - else a moving average over the `movingAverageMs` before the rate window (frozen while a drop
//    is pending or firing, so that a long drop does not become its own baseline);
//  - else nothing is judged.
// A stream is "low" when its rate is below `below` x baseline and the baseline expects at least
// `minBaselineEvents` per rate window (tiny streams never fire). An alert starts once the stream
// has been low at every evaluation for `forMs`, i.e. between `forMs` and `forMs + rateWindowMs`
// after a sudden drop; it resolves once the rate has stayed at or above `recoverAbove` x baseline
// for `recoverForMs`. Pure logic over the history: no clock, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ops/alerts/volume_history.h"

namespace sluice::ops::alerts {

struct DropSettings {
  bool enabled = true;
  double below = 0.5;
  double recoverAbove = 0.7;
  int64_t forMs = 15 * kMinuteMs;
  int64_t recoverForMs = 5 * kMinuteMs;
  int64_t rateWindowMs = 5 * kMinuteMs;
  int64_t movingAverageMs = 2 * kHourMs;
  double minBaselineEvents = 30;
  int historyDays = 7;
  int minHistoryDays = 3;
};

struct Baseline {
  enum class Kind { kSeasonal, kMovingAverage };
  double perMinute = 0;
  Kind kind = Kind::kSeasonal;
  int days = 0;  // seasonal: the days the median was taken over
};
const char* baselineKindName(Baseline::Kind kind);  // "same time on previous days", ...

// A started or resolved drop alert.
struct DropTransition {
  std::string destination;
  std::string event;
  bool started = false;  // false: resolved
  double ratePerMinute = 0;
  Baseline baseline;
  std::string message;  // human-readable, e.g. "CompletePayment at 12/min, 18% of its baseline..."
};

class DropDetector {
 public:
  explicit DropDetector(DropSettings settings = {}) : settings_(settings) {}
  // New settings apply from the next evaluation; states are kept.
  void setSettings(const DropSettings& settings) { settings_ = settings; }
  const DropSettings& settings() const { return settings_; }

  // The expected received-per-minute of one series over [fromMs, toMs), or nullopt when the
  // history cannot tell.
  std::optional<Baseline> baseline(const VolumeHistory& history, const std::string& destination,
                                   const std::string& event, EpochMs fromMs, EpochMs toMs) const;

  // Evaluates every series of the history with the minutes that ended by `nowMs` (call it once a
  // minute, after VolumeHistory::flush()). Returns the alerts that started or resolved.
  std::vector<DropTransition> evaluate(const VolumeHistory& history, EpochMs nowMs);

  // Whether a series' alert is firing now.
  bool firing(const std::string& destination, const std::string& event) const;
  // Marks a series' alert as firing (restored after a restart): it resolves once the series has
  // recovered for recoverForMs, judged against the baseline computed from then on.
  void restoreFiring(const std::string& destination, const std::string& event);

 private:
  struct State {
    std::optional<EpochMs> lowSince;
    std::optional<Baseline> frozen;  // the moving-average baseline when the low period began
    bool firing = false;
    std::optional<EpochMs> highSince;
  };
  DropSettings settings_;
  std::map<std::pair<std::string, std::string>, State> states_;
};

}  // namespace sluice::ops::alerts
