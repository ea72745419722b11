// The volume-drop detector on generated traffic: several days of diurnal volume (a night trough at
// 10% of the afternoon peak) with Poisson noise and day-to-day variation, from a seeded generator,
// fed minute by minute as the sampler does (add, flush, evaluate).
#include "ops/alerts/drop_detector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

namespace sluice::ops::alerts {
namespace {

constexpr EpochMs kDay0 = 1'717'200'000'000;  // 2024-06-01T00:00:00Z (a Saturday)
constexpr const char* kDest = "tiktok";
constexpr const char* kEvent = "CompletePayment";

// Expected events per minute at `t`: `peak` at 16:00, 10% of it at 04:00, smooth in between.
double diurnal(EpochMs t, double peak) {
  const double hour = static_cast<double>(t % kDayMs) / kHourMs;
  const double phase = 2 * M_PI * (hour - 4) / 24;
  return peak * (0.1 + 0.9 * (0.5 - 0.5 * std::cos(phase)));
}

struct Timeline {
  std::vector<DropTransition> transitions;
  std::vector<EpochMs> at;  // when each transition was reported
};

// Feeds minutes [from, to) of `rate(t)` (Poisson) to `history`, evaluating after every minute.
class Simulation {
 public:
  explicit Simulation(DropSettings settings = {}, uint64_t seed = 42)
      : history_(VolumeHistory::open("", kDay0).value()), detector_(settings), random_(seed) {}

  void run(EpochMs from, EpochMs to, const std::function<double(EpochMs)>& rate) {
    for (EpochMs t = from; t < to; t += kMinuteMs) {
      // Day-to-day variation: each day's volume is scaled by a factor in [0.85, 1.15].
      const int64_t day = (t - kDay0) / kDayMs;
      if (day != day_) {
        day_ = day;
        dayFactor_ = std::uniform_real_distribution<double>(0.85, 1.15)(random_);
      }
      const double lambda = std::max(0.0, rate(t) * dayFactor_);
      const auto n = static_cast<uint64_t>(std::poisson_distribution<int64_t>(lambda)(random_));
      history_->add(kDest, kEvent, t, VolumeCounts{n, n});
      const EpochMs now = t + kMinuteMs;
      ASSERT_TRUE(history_->flush(now).has_value());
      for (auto& transition : detector_.evaluate(*history_, now)) {
        timeline_.transitions.push_back(std::move(transition));
        timeline_.at.push_back(now);
      }
    }
  }

  const Timeline& timeline() const { return timeline_; }
  std::string describe() const {
    std::string out;
    for (size_t i = 0; i < timeline_.at.size(); ++i) {
      out += std::to_string((timeline_.at[i] - kDay0) / kMinuteMs) + "min " +
             (timeline_.transitions[i].started ? "start " : "resolve ") +
             timeline_.transitions[i].message + "\n";
    }
    return out;
  }
  DropDetector& detector() { return detector_; }
  VolumeHistory& history() { return *history_; }

 private:
  std::unique_ptr<VolumeHistory> history_;
  DropDetector detector_;
  std::mt19937_64 random_;
  int64_t day_ = -1;
  double dayFactor_ = 1;
  Timeline timeline_;
};

auto normal(double peak) {
  return [peak](EpochMs t) { return diurnal(t, peak); };
}

// (b) + (c): a week and more of ordinary diurnal traffic with noise: never an alert, neither at
// the nightly trough nor in the morning ramp, neither on the first days (moving average) nor
// later (same time on previous days).
TEST(DropDetectorTest, DiurnalTrafficWithNoiseStaysQuiet) {
  for (const uint64_t seed : {1u, 2u, 3u}) {
    Simulation sim({}, seed);
    sim.run(kDay0, kDay0 + 9 * kDayMs, normal(100));
    EXPECT_TRUE(sim.timeline().transitions.empty()) << "seed " << seed << "\n" << sim.describe();
  }
}

// (c) Flat, noisy, low-volume traffic near the minimum baseline: quiet.
TEST(DropDetectorTest, NoisyLowVolumeStaysQuiet) {
  Simulation sim({}, 7);
  sim.run(kDay0, kDay0 + 4 * kDayMs, [](EpochMs) { return 8.0; });
  EXPECT_TRUE(sim.timeline().transitions.empty()) << sim.describe();
}

// (a) + (d): after a week of history, the volume drops to 10% at 10:00 for two hours: one alert
// between `for` and `for + rate_window` after the drop, based on the same time on previous days;
// then one resolution after the recovery, and nothing else.
TEST(DropDetectorTest, DropFiresWithinTheWindowAndRecoveryResolvesOnce) {
  const DropSettings settings;  // 50% for 15 min, 5 min rate window, recovery 70% for 5 min
  Simulation sim(settings, 11);
  const EpochMs start = kDay0 + 8 * kDayMs;
  sim.run(kDay0, start, normal(100));
  ASSERT_TRUE(sim.timeline().transitions.empty()) << sim.describe();
  const EpochMs drop = start + 10 * kHourMs;
  const EpochMs recovery = drop + 2 * kHourMs;
  sim.run(start, start + kDayMs, [&](EpochMs t) {
    const double r = diurnal(t, 100);
    return t >= drop && t < recovery ? r * 0.1 : r;
  });
  const Timeline& tl = sim.timeline();
  ASSERT_EQ(tl.transitions.size(), 2u) << sim.describe();
  EXPECT_TRUE(tl.transitions[0].started);
  EXPECT_EQ(tl.transitions[0].event, kEvent);
  EXPECT_EQ(tl.transitions[0].baseline.kind, Baseline::Kind::kSeasonal);
  EXPECT_GE(tl.at[0], drop + settings.forMs);
  EXPECT_LE(tl.at[0], drop + settings.forMs + settings.rateWindowMs + kMinuteMs);
  EXPECT_LT(tl.transitions[0].ratePerMinute, 0.2 * tl.transitions[0].baseline.perMinute);
  EXPECT_NE(tl.transitions[0].message.find("CompletePayment at tiktok"), std::string::npos);
  EXPECT_FALSE(tl.transitions[1].started);
  EXPECT_GE(tl.at[1], recovery + settings.recoverForMs);
  EXPECT_LE(tl.at[1], recovery + settings.recoverForMs + settings.rateWindowMs + kMinuteMs);
}

// A drop at night (the trough) is still seen when the night volume is above the minimum.
TEST(DropDetectorTest, DropDuringTheNightFires) {
  Simulation sim({}, 5);
  const EpochMs start = kDay0 + 7 * kDayMs;
  sim.run(kDay0, start, normal(200));
  const EpochMs drop = start + 3 * kHourMs;  // 03:00, about 10% of the peak
  sim.run(start, start + 6 * kHourMs, [&](EpochMs t) { return t >= drop ? 0.0 : diurnal(t, 200); });
  ASSERT_EQ(sim.timeline().transitions.size(), 1u) << sim.describe();
  EXPECT_LE(sim.timeline().at[0], drop + 21 * kMinuteMs);
}

// Without previous days, the moving average is the baseline: a drop on the first day fires too,
// and the baseline does not adapt to the drop (the alert stays until recovery).
TEST(DropDetectorTest, FirstDayDropUsesTheMovingAverage) {
  Simulation sim({}, 9);
  const EpochMs drop = kDay0 + 13 * kHourMs;
  const EpochMs recovery = drop + 4 * kHourMs;
  sim.run(kDay0, kDay0 + 20 * kHourMs, [&](EpochMs t) {
    const double r = diurnal(t, 100);
    return t >= drop && t < recovery ? r * 0.1 : r;
  });
  const Timeline& tl = sim.timeline();
  ASSERT_EQ(tl.transitions.size(), 2u) << sim.describe();
  EXPECT_TRUE(tl.transitions[0].started);
  EXPECT_EQ(tl.transitions[0].baseline.kind, Baseline::Kind::kMovingAverage);
  EXPECT_LE(tl.at[0], drop + 21 * kMinuteMs);
  EXPECT_FALSE(tl.transitions[1].started);
  EXPECT_GE(tl.at[1], recovery);
  EXPECT_LE(tl.at[1], recovery + 11 * kMinuteMs);
}

// A short dip (shorter than `for`) is not an alert; a stream below the minimum never alerts.
TEST(DropDetectorTest, ShortDipsAndTinyStreamsDoNotFire) {
  Simulation sim({}, 13);
  const EpochMs start = kDay0 + 7 * kDayMs;
  sim.run(kDay0, start, normal(100));
  const EpochMs dip = start + 14 * kHourMs;
  sim.run(start, start + kDayMs, [&](EpochMs t) {
    const double r = diurnal(t, 100);
    return t >= dip && t < dip + 8 * kMinuteMs ? 0.0 : r;
  });
  EXPECT_TRUE(sim.timeline().transitions.empty()) << sim.describe();

  Simulation tiny({}, 17);
  tiny.run(kDay0, kDay0 + 4 * kDayMs, [&](EpochMs t) {
    return t < kDay0 + 3 * kDayMs ? diurnal(t, 4) : 0.0;  // peak 4/min, then nothing
  });
  EXPECT_TRUE(tiny.timeline().transitions.empty()) << tiny.describe();
}

TEST(DropDetectorTest, SeasonalBaselineInterpolatesTheSameTimeOfDay) {
  auto history = VolumeHistory::open("", kDay0).value();
  // Three previous days: 60/min in hour 9, 120/min in hour 10.
  for (int d = 0; d < 3; ++d) {
    for (int m = 0; m < 120; ++m) {
      const EpochMs t = kDay0 + d * kDayMs + 9 * kHourMs + m * kMinuteMs;
      history->add(kDest, kEvent, t, VolumeCounts{m < 60 ? 60u : 120u, 0});
    }
  }
  DropDetector detector;
  // The window 10:00-10:05 on day 3: centre 10:02:30, between the centres 09:30 and 10:30.
  const EpochMs from = kDay0 + 3 * kDayMs + 10 * kHourMs;
  const auto base = detector.baseline(*history, kDest, kEvent, from, from + 5 * kMinuteMs);
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(base->kind, Baseline::Kind::kSeasonal);
  EXPECT_EQ(base->days, 3);
  EXPECT_NEAR(base->perMinute, 60 + 60 * (32.5 / 60), 1e-9);
  // An event never seen while its destination was sampled: a known zero. A destination never
  // sampled: nothing known, no baseline.
  const auto other = detector.baseline(*history, kDest, "Other", from, from + 5 * kMinuteMs);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->perMinute, 0.0);
  EXPECT_FALSE(detector.baseline(*history, "nobody", kEvent, from, from + 5 * kMinuteMs));
}

}  // namespace
}  // namespace sluice::ops::alerts
