#include "ops/alerts/alert_centre.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sluice::ops::alerts {
namespace {

struct Recorder final : AlertNotifier {
  std::vector<Alert> seen;
  void notify(const Alert& alert) override { seen.push_back(alert); }
};

AlertSpec paused(const std::string& message = "paused (40105)") {
  return AlertSpec{"paused", "tiktok", "", Severity::kCritical, message};
}

TEST(AlertCentreTest, OneStartAndOneResolveThroughAFlappingCondition) {
  FakeClock clock;
  Recorder recorder;
  AlertCentre centre(clock);
  centre.setNotifier(&recorder);
  // Condition true at 0 s, flaps false/true every 10 s for two minutes, then stays false.
  for (int s = 0; s <= 120; s += 5) {
    centre.observe(paused(), (s / 10) % 2 == 0, 0, 60'000);
    clock.advanceMs(5'000);
  }
  ASSERT_EQ(recorder.seen.size(), 1u);
  EXPECT_TRUE(recorder.seen[0].active());
  for (int s = 0; s < 59; s += 5) {
    centre.observe(paused("resumed"), false, 0, 60'000);
    clock.advanceMs(5'000);
  }
  EXPECT_EQ(recorder.seen.size(), 1u);  // clear for less than a minute: still active
  clock.advanceMs(5'000);
  centre.observe(paused("resumed"), false, 0, 60'000);
  ASSERT_EQ(recorder.seen.size(), 2u);
  EXPECT_FALSE(recorder.seen[1].active());
  EXPECT_EQ(recorder.seen[1].id, recorder.seen[0].id);
  EXPECT_EQ(recorder.seen[1].resolvedMessage, "resumed");
  EXPECT_TRUE(centre.active().empty());
  ASSERT_EQ(centre.recent().size(), 1u);
}

TEST(AlertCentreTest, RaiseAfterNeedsTheConditionToHoldThatLong) {
  FakeClock clock;
  Recorder recorder;
  AlertCentre centre(clock);
  centre.setNotifier(&recorder);
  const AlertSpec spec{"error_rate", "tiktok", "", Severity::kWarning, "50% failed"};
  centre.observe(spec, true, 30'000, 0);
  clock.advanceMs(20'000);
  centre.observe(spec, true, 30'000, 0);
  clock.advanceMs(5'000);
  centre.observe(spec, false, 30'000, 0);  // interrupted: starts over
  clock.advanceMs(5'000);
  centre.observe(spec, true, 30'000, 0);
  clock.advanceMs(25'000);
  centre.observe(spec, true, 30'000, 0);
  EXPECT_TRUE(recorder.seen.empty());
  clock.advanceMs(5'000);
  centre.observe(spec, true, 30'000, 0);
  ASSERT_EQ(recorder.seen.size(), 1u);
  EXPECT_EQ(recorder.seen[0].startedMs, clock.nowMs());
}

TEST(AlertCentreTest, ExternalAlertsAndJson) {
  FakeClock clock;
  Recorder recorder;
  AlertCentre centre(clock);
  centre.setNotifier(&recorder);
  const AlertSpec canary{"canary", "tiktok", "", Severity::kCritical, "canary failed: 40001"};
  EXPECT_TRUE(centre.raiseExternal("canary:tiktok", canary));
  EXPECT_FALSE(centre.raiseExternal("canary:tiktok", canary));  // already active
  centre.raise(AlertSpec{"volume_drop", "tiktok", "Purchase", Severity::kCritical, "low"});
  const EpochMs started = clock.nowMs();
  clock.advanceMs(90'000);
  EXPECT_TRUE(centre.resolveExternal("canary:tiktok", "canary passed"));
  EXPECT_FALSE(centre.resolveExternal("canary:tiktok"));
  EXPECT_EQ(recorder.seen.size(), 3u);

  const auto json = boost::json::parse(centre.json()).as_object();
  const auto& active = json.at("active").as_array();
  ASSERT_EQ(active.size(), 1u);
  const auto& drop = active[0].as_object();
  EXPECT_EQ(drop.at("kind").as_string(), "volume_drop");
  EXPECT_EQ(drop.at("destination").as_string(), "tiktok");
  EXPECT_EQ(drop.at("event").as_string(), "Purchase");
  EXPECT_EQ(drop.at("severity").as_string(), "critical");
  EXPECT_EQ(drop.at("message").as_string(), "low");
  EXPECT_EQ(drop.at("started_ms").as_int64(), started);
  EXPECT_TRUE(drop.at("resolved_ms").is_null());
  EXPECT_EQ(drop.at("id").to_number<uint64_t>(), 2u);
  const auto& recent = json.at("recent").as_array();
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(recent[0].at("kind").as_string(), "canary");
  EXPECT_EQ(recent[0].at("resolved_ms").as_int64(), started + 90'000);
}

TEST(AlertCentreTest, RemovedDestinationResolvesItsAlertsAndRecentIsBounded) {
  FakeClock clock;
  AlertCentre centre(clock, 3);
  for (const char* event : {"E0", "E1", "E2", "E3", "E4"}) {
    centre.raise(AlertSpec{"volume_drop", "a", event, Severity::kCritical, "x"});
  }
  centre.raise(AlertSpec{"paused", "b", "", Severity::kCritical, "x"});
  centre.resolveDestination("a", "removed");
  ASSERT_EQ(centre.active().size(), 1u);
  EXPECT_EQ(centre.active()[0].spec.destination, "b");
  EXPECT_EQ(centre.recent().size(), 3u);
}

}  // namespace
}  // namespace sluice::ops::alerts
