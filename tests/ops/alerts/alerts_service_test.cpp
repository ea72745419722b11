// The sampler's delivery alerts (paused, backlog age, error rate) and its use of the history and
// the drop detector, driven with a fake clock through sampleOnce().
#include "ops/alerts/alerts_service.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sluice::ops::alerts {
namespace {

struct Recorder final : AlertNotifier {
  std::vector<Alert> seen;
  void notify(const Alert& alert) override { seen.push_back(alert); }
  size_t count(const std::string& kind, bool started) const {
    size_t n = 0;
    for (const auto& a : seen) n += a.spec.kind == kind && a.active() == started;
    return n;
  }
};

class AlertsServiceTest : public ::testing::Test {
 protected:
  AlertsServiceTest() : clock_(1'717'200'000'000), service_(clock_, settings(), nullptr) {
    service_.attach(VolumeHistory::open("", clock_.nowMs()).value());
    service_.centre().setNotifier(&recorder_);
  }
  static AlertsSettings settings() {
    AlertsSettings s;
    s.resolveAfterMs = 30'000;
    s.backlogMaxAgeMs = 10 * 60'000;
    s.errorRateAbove = 0.5;
    s.errorRateWindowMs = 60'000;
    s.errorRateMinRequests = 10;
    return s;
  }
  // Samples every 5 s for `ms`, with `sample` giving the figures.
  void run(int64_t ms, const std::function<DestinationSample()>& sample) {
    for (int64_t t = 0; t < ms; t += 5'000) {
      service_.sampleOnce({sample()});
      clock_.advanceMs(5'000);
    }
  }
  FakeClock clock_;
  Recorder recorder_;
  AlertsService service_;
};

TEST_F(AlertsServiceTest, PausedStartsAtOnceAndResolvesOnceAfterTheQuietPeriod) {
  DestinationSample s{"tiktok", {}, 0, 0};
  run(20'000, [&] { return s; });
  EXPECT_TRUE(recorder_.seen.empty());
  s.stats.paused = true;
  s.stats.pauseReason = "TikTok code 40105";
  s.backlog = 500;
  s.oldestUndeliveredMs = clock_.nowMs();
  run(60'000, [&] { return s; });
  EXPECT_EQ(recorder_.count("paused", true), 1u);
  ASSERT_FALSE(recorder_.seen.empty());
  EXPECT_NE(recorder_.seen[0].spec.message.find("40105"), std::string::npos);
  EXPECT_NE(recorder_.seen[0].spec.message.find("500 events wait"), std::string::npos);
  // Resumed, paused again briefly (a probe failed), then resumed for good.
  s.stats.paused = false;
  run(10'000, [&] { return s; });
  s.stats.paused = true;
  run(5'000, [&] { return s; });
  s.stats.paused = false;
  s.backlog = 0;
  s.oldestUndeliveredMs = 0;
  run(60'000, [&] { return s; });
  EXPECT_EQ(recorder_.count("paused", true), 1u);
  EXPECT_EQ(recorder_.count("paused", false), 1u);
  const auto json = boost::json::parse(service_.alertsJson()).as_object();
  EXPECT_TRUE(json.at("active").as_array().empty());
  EXPECT_EQ(json.at("recent").as_array().size(), 1u);
}

TEST_F(AlertsServiceTest, BacklogOlderThanTheThreshold) {
  DestinationSample s{"tiktok", {}, 1'000, clock_.nowMs()};
  run(9 * 60'000, [&] { return s; });
  EXPECT_EQ(recorder_.count("backlog_age", true), 0u);
  run(2 * 60'000, [&] { return s; });
  EXPECT_EQ(recorder_.count("backlog_age", true), 1u);
  s.backlog = 0;
  s.oldestUndeliveredMs = 0;
  run(60'000, [&] { return s; });
  EXPECT_EQ(recorder_.count("backlog_age", false), 1u);
}

TEST_F(AlertsServiceTest, ErrorRateOverTheWindowWithAMinimumOfRequests) {
  DestinationSample s{"tiktok", {}, 0, 0};
  // 2 requests every 5 s, all failing: 24 per minute > 10, 100% > 50%.
  run(40'000, [&] {
    s.stats.replies["http_500"] += 2;
    return s;
  });
  EXPECT_EQ(recorder_.count("error_rate", true), 1u);
  ASSERT_FALSE(recorder_.seen.empty());
  EXPECT_NE(recorder_.seen.back().spec.message.find("http_500"), std::string::npos);
  // Then all succeed: the window's rate falls under 50% and the alert resolves once.
  run(3 * 60'000, [&] {
    s.stats.replies["0"] += 4;
    return s;
  });
  EXPECT_EQ(recorder_.count("error_rate", false), 1u);
  // A trickle of failures below the minimum number of requests: nothing.
  run(3 * 60'000, [&] {
    s.stats.replies["40100"] += clock_.nowMs() % 30'000 == 0 ? 1 : 0;
    return s;
  });
  EXPECT_EQ(recorder_.count("error_rate", true), 1u);
}

TEST_F(AlertsServiceTest, APausedDestinationHasThePausedAlertNotAnErrorRateToo) {
  DestinationSample s{"tiktok", {}, 0, 0};
  s.stats.replies["0"] = 100;
  run(20'000, [&] { return s; });
  // The token is refused: every request fails with 40001 (the sends before the pause took effect,
  // then the probes), far above the error-rate threshold.
  s.stats.paused = true;
  s.stats.pauseReason = "40001 access token invalid";
  run(3 * 60'000, [&] {
    s.stats.replies["40001"] += 3;
    return s;
  });
  EXPECT_EQ(recorder_.count("paused", true), 1u);
  EXPECT_EQ(recorder_.count("error_rate", true), 0u);
  // Resumed (new token): the failures of the pause do not raise the error rate afterwards.
  s.stats.paused = false;
  run(2 * 60'000, [&] {
    s.stats.replies["0"] += 2;
    return s;
  });
  EXPECT_EQ(recorder_.count("paused", false), 1u);
  EXPECT_EQ(recorder_.count("error_rate", true), 0u);
  // Errors of another cause after the resumption are judged again.
  run(60'000, [&] {
    s.stats.replies["http_500"] += 3;
    return s;
  });
  EXPECT_EQ(recorder_.count("error_rate", true), 1u);
}

TEST_F(AlertsServiceTest, WithPausedAlertsTurnedOffAPauseCountsInTheErrorRate) {
  AlertsSettings settings = AlertsServiceTest::settings();
  settings.pausedEnabled = false;
  service_.reload(settings);
  DestinationSample s{"tiktok", {}, 0, 0};
  s.stats.paused = true;
  run(60'000, [&] {
    s.stats.replies["40001"] += 3;
    return s;
  });
  EXPECT_EQ(recorder_.count("paused", true), 0u);
  EXPECT_EQ(recorder_.count("error_rate", true), 1u);
}

TEST_F(AlertsServiceTest, RemovedDestinationResolvesAndHistoryIsFed) {
  DestinationSample s{"tiktok", {}, 0, 0};
  s.stats.paused = true;
  run(10'000, [&] {
    s.stats.byEventName["CompletePayment"].mapped += 10;
    s.stats.byEventName["CompletePayment"].delivered += 10;
    return s;
  });
  EXPECT_EQ(recorder_.count("paused", true), 1u);
  service_.sampleOnce({});  // the destination was removed by a reload
  EXPECT_EQ(recorder_.count("paused", false), 1u);
  const auto series = boost::json::parse(service_.seriesJson("tiktok", clock_.nowMs() - 60'000,
                                                             clock_.nowMs() + 60'000))
                          .as_object();
  uint64_t received = 0;
  for (const auto& v : series.at("series").at("CompletePayment").at("received").as_array()) {
    if (!v.is_null()) received += v.to_number<uint64_t>();
  }
  EXPECT_EQ(received, 20u);
}

}  // namespace
}  // namespace sluice::ops::alerts
