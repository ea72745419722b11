#include "ops/alerts/drop_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sluice::ops::alerts {
namespace {

EpochMs floorTo(EpochMs t, int64_t step) {
  const EpochMs r = t % step;
  return r < 0 ? t - r - step : t - r;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string format(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, value >= 10 ? "%.0f" : "%.1f", value);
  return buffer;
}

}  // namespace

const char* baselineKindName(Baseline::Kind kind) {
  return kind == Baseline::Kind::kSeasonal ? "same time on previous days" : "moving average";
}

std::optional<Baseline> DropDetector::baseline(const VolumeHistory& history,
                                               const std::string& destination,
                                               const std::string& event, EpochMs fromMs,
                                               EpochMs toMs) const {
  // Seasonal: the rate at the window's centre on each previous day, interpolated between the
  // centres of the two nearest hour rows.
  const EpochMs centre = fromMs + (toMs - fromMs) / 2;
  std::vector<double> days;
  for (int d = 1; d <= settings_.historyDays; ++d) {
    const EpochMs then = centre - d * kDayMs;
    const EpochMs h0 = floorTo(then - kHourMs / 2, kHourMs);
    const EpochMs h1 = h0 + kHourMs;
    const auto r0 = history.hourRate(destination, event, h0);
    const auto r1 = history.hourRate(destination, event, h1);
    if (r0 && r1) {
      const double f = static_cast<double>(then - (h0 + kHourMs / 2)) / kHourMs;
      days.push_back(*r0 + (*r1 - *r0) * f);
    } else if (r0 || r1) {
      days.push_back(r0 ? *r0 : *r1);
    }
  }
  if (static_cast<int>(days.size()) >= std::max(1, settings_.minHistoryDays)) {
    return Baseline{median(days), Baseline::Kind::kSeasonal, static_cast<int>(days.size())};
  }
  // Moving average over the period before the window, when most of it was sampled.
  int covered = 0;
  const VolumeCounts before =
      history.sum(destination, event, fromMs - settings_.movingAverageMs, fromMs, &covered);
  if (covered > 0 && covered * kMinuteMs * 2 >= settings_.movingAverageMs) {
    return Baseline{static_cast<double>(before.received) / covered, Baseline::Kind::kMovingAverage,
                    0};
  }
  return std::nullopt;
}

std::vector<DropTransition> DropDetector::evaluate(const VolumeHistory& history, EpochMs nowMs) {
  std::vector<DropTransition> out;
  if (!settings_.enabled) {
    // Disabled: firing alerts resolve, nothing new is judged.
    for (auto& [key, state] : states_) {
      if (state.firing) {
        DropTransition t;
        t.destination = key.first;
        t.event = key.second;
        t.message = key.second + " at " + key.first + ": volume-drop detection turned off";
        out.push_back(std::move(t));
      }
    }
    states_.clear();
    return out;
  }
  const EpochMs to = floorTo(nowMs, kMinuteMs);
  const EpochMs from =
      to - std::max<int64_t>(kMinuteMs, floorTo(settings_.rateWindowMs, kMinuteMs));
  const int windowMinutes = static_cast<int>((to - from) / kMinuteMs);
  for (const std::string& destination : history.destinations()) {
    for (const std::string& event : history.events(destination)) {
      if (event == delivery::kUnmappedEventName) continue;
      State& state = states_[{destination, event}];
      int covered = 0;
      const VolumeCounts now = history.sum(destination, event, from, to, &covered);
      // Judge only windows that were mostly sampled (not just after a start, not while stopped).
      if (covered * 4 < windowMinutes * 3) continue;
      const double rate = static_cast<double>(now.received) / covered;
      std::optional<Baseline> base = baseline(history, destination, event, from, to);
      if (state.frozen && (state.lowSince || state.firing) &&
          (!base || base->kind == Baseline::Kind::kMovingAverage)) {
        base = state.frozen;
      }
      if (!base) continue;
      const double expected = base->perMinute * windowMinutes;
      const bool judged = expected >= settings_.minBaselineEvents;
      const bool low = judged && rate < settings_.below * base->perMinute;
      const bool recovered = rate >= settings_.recoverAbove * base->perMinute;
      auto transition = [&](bool started) {
        DropTransition t;
        t.destination = destination;
        t.event = event;
        t.started = started;
        t.ratePerMinute = rate;
        t.baseline = *base;
        const double share = base->perMinute > 0 ? 100 * rate / base->perMinute : 100;
        t.message = event + " at " + destination + ": " + format(rate) + "/min over the last " +
                    std::to_string(windowMinutes) + " min, " + format(share) +
                    "% of its baseline " + format(base->perMinute) + "/min (" +
                    baselineKindName(base->kind) + ")";
        if (!started) t.message += "; recovered";
        out.push_back(std::move(t));
      };
      if (!state.firing) {
        if (low) {
          if (!state.lowSince) {
            state.lowSince = to;
            state.frozen = base->kind == Baseline::Kind::kMovingAverage
                               ? std::optional<Baseline>(*base)
                               : std::nullopt;
          }
          if (to - *state.lowSince >= settings_.forMs) {
            state.firing = true;
            state.highSince.reset();
            transition(true);
          }
        } else {
          state.lowSince.reset();
          state.frozen.reset();
        }
      } else {
        if (recovered) {
          if (!state.highSince) state.highSince = to;
          if (to - *state.highSince >= settings_.recoverForMs) {
            transition(false);
            state = State{};
          }
        } else {
          state.highSince.reset();
        }
      }
    }
  }
  return out;
}

void DropDetector::restoreFiring(const std::string& destination, const std::string& event) {
  State& state = states_[{destination, event}];
  state = State{};
  state.firing = true;
}

bool DropDetector::firing(const std::string& destination, const std::string& event) const {
  auto it = states_.find({destination, event});
  return it != states_.end() && it->second.firing;
}

}  // namespace sluice::ops::alerts
