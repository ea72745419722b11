// The sampler's delivery alerts (paused, backlog age, error rate) and its use of the history and
// the drop detector, driven with a fake clock through sampleOnce().
#include "ops/alerts/alerts_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

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

AlertsSettings testSettings() {
  AlertsSettings s;
  s.resolveAfterMs = 30'000;
  s.backlogMaxAgeMs = 10 * 60'000;
  s.errorRateAbove = 0.5;
  s.errorRateWindowMs = 60'000;
  s.errorRateMinRequests = 10;
  return s;
}

class AlertsServiceTest : public ::testing::Test {
 protected:
  AlertsServiceTest() : clock_(1'717'200'000'000), service_(clock_, settings(), nullptr) {
    service_.attach(VolumeHistory::open("", clock_.nowMs()).value());
    service_.centre().setNotifier(&recorder_);
  }
  static AlertsSettings settings() { return testSettings(); }
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

TEST_F(AlertsServiceTest, StorageStartsAtTheFirstRefusalAndResolvesOnceWritesLastedTheQuietPeriod) {
  const StorageSample full{false, "free disk space (1000 bytes) is below the floor (2000 bytes)"};
  const StorageSample fine{true, ""};
  auto observe = [&](int64_t ms, const StorageSample& sample) {
    for (int64_t t = 0; t < ms; t += 5'000) {
      service_.observeStorage(sample);
      clock_.advanceMs(5'000);
    }
  };
  observe(20'000, fine);
  EXPECT_TRUE(recorder_.seen.empty());
  observe(5'000, full);
  ASSERT_EQ(recorder_.count("storage", true), 1u);
  const Alert& started = recorder_.seen.at(0);
  EXPECT_EQ(started.spec.severity, Severity::kCritical);
  EXPECT_EQ(started.spec.destination, "");
  EXPECT_NE(started.spec.message.find("below the floor"), std::string::npos)
      << started.spec.message;
  EXPECT_NE(started.spec.message.find("503"), std::string::npos) << started.spec.message;
  // Writable for less than resolveAfterMs (30 s), then refused again: the same alert.
  observe(20'000, fine);
  observe(5'000, full);
  // Destination samples (which resolve the alerts of destinations that are gone) leave it be.
  for (int i = 0; i < 12; ++i) {
    service_.sampleOnce({DestinationSample{"tiktok", {}, 0, 0}});
    observe(5'000, full);
  }
  EXPECT_EQ(recorder_.count("storage", true), 1u);
  EXPECT_EQ(recorder_.count("storage", false), 0u);
  observe(25'000, fine);
  EXPECT_EQ(recorder_.count("storage", false), 0u);
  observe(10'000, fine);
  ASSERT_EQ(recorder_.count("storage", false), 1u);
  EXPECT_EQ(recorder_.seen.back().resolvedMessage, "the event log takes writes again");
  EXPECT_EQ(recorder_.seen.size(), 2u);
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
  AlertsSettings settings = testSettings();
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

// One process's alerts with their state in `path` (as `sluice serve` keeps them in
// ops-history.db), sampled with the fake clock.
struct Process {
  Process(FakeClock& clock, const std::string& path) : service(clock, testSettings(), nullptr) {
    service.attach(VolumeHistory::open("", clock.nowMs()).value());
    auto state = AlertState::open(path);
    EXPECT_TRUE(state) << state.error().toString();
    if (state) {
      EXPECT_TRUE(service.restore(std::move(*state)));
    }
    service.centre().setNotifier(&recorder);
  }
  Recorder recorder;
  AlertsService service;
};

class AlertRestartTest : public ::testing::Test {
 protected:
  AlertRestartTest()
      : clock_(1'717'200'000'000),
        path_((std::filesystem::temp_directory_path() /
               ("sluice-alert-state-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db"))
                  .string()) {
    removeFiles();
  }
  ~AlertRestartTest() override { removeFiles(); }
  void removeFiles() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  void run(Process& p, int64_t ms, const std::vector<DestinationSample>& samples) {
    for (int64_t t = 0; t < ms; t += 5'000) {
      p.service.sampleOnce(samples);
      clock_.advanceMs(5'000);
    }
  }
  FakeClock clock_;
  std::string path_;
};

TEST_F(AlertRestartTest, AnAlertFiringAtARestartResolvesOnceAndIsNotStartedAgain) {
  DestinationSample paused{"tiktok", {}, 100, 0};
  paused.stats.paused = true;
  uint64_t id = 0;
  {
    Process first(clock_, path_);
    run(first, 20'000, {paused});
    ASSERT_EQ(first.recorder.count("paused", true), 1u);
    id = first.recorder.seen.at(0).id;
  }  // stopped while the alert fires
  {
    Process second(clock_, path_);
    const auto active = second.service.centre().active();
    ASSERT_EQ(active.size(), 1u);
    EXPECT_EQ(active[0].id, id);
    run(second, 60'000, {paused});  // still paused: no second "started"
    EXPECT_TRUE(second.recorder.seen.empty());
    EXPECT_EQ(second.service.centre().active().at(0).id, id);
  }
  {
    Process third(clock_, path_);
    DestinationSample resumed = paused;
    resumed.stats.paused = false;
    run(third, 3 * 60'000, {resumed});  // resumed: one "resolved" for the alert of the first run
    EXPECT_EQ(third.recorder.count("paused", true), 0u);
    ASSERT_EQ(third.recorder.count("paused", false), 1u);
    EXPECT_EQ(third.recorder.seen.at(0).id, id);
  }
  Process fourth(clock_, path_);  // nothing left to restore
  EXPECT_TRUE(fourth.service.centre().active().empty());
}

TEST_F(AlertRestartTest, AStorageAlertFiringAtARestartIsNotTakenForAGoneDestination) {
  const StorageSample full{false, "I/O error"};
  {
    Process first(clock_, path_);
    first.service.observeStorage(full);
    ASSERT_EQ(first.recorder.count("storage", true), 1u);
  }
  {
    Process second(clock_, path_);
    // Destinations are sampled, the log still takes no writes: still active, not started again.
    for (int i = 0; i < 12; ++i) {
      second.service.sampleOnce({DestinationSample{"tiktok", {}, 0, 0}});
      second.service.observeStorage(full);
      clock_.advanceMs(5'000);
    }
    EXPECT_TRUE(second.recorder.seen.empty());
    ASSERT_EQ(second.service.centre().active().size(), 1u);
  }
  Process third(clock_, path_);
  for (int i = 0; i < 12; ++i) {
    third.service.sampleOnce({DestinationSample{"tiktok", {}, 0, 0}});
    third.service.observeStorage(StorageSample{true, ""});
    clock_.advanceMs(5'000);
  }
  ASSERT_EQ(third.recorder.count("storage", false), 1u);
  EXPECT_EQ(third.recorder.seen.at(0).resolvedMessage, "the event log takes writes again");
}

TEST_F(AlertRestartTest, RestoredAlertsOfAGoneDestinationOrADropThatRecoveredResolve) {
  {
    Process first(clock_, path_);
    DestinationSample paused{"old", {}, 0, 0};
    paused.stats.paused = true;
    run(first, 10'000, {paused});
    first.service.centre().raise(
        AlertSpec{"volume_drop", "tiktok", "Purchase", Severity::kCritical, "drop"});
    ASSERT_EQ(first.service.centre().active().size(), 2u);
  }
  Process second(clock_, path_);
  ASSERT_EQ(second.service.centre().active().size(), 2u);
  // "old" is no longer configured: its alert resolves at the first sample.
  second.service.sampleOnce({DestinationSample{"tiktok", {}, 0, 0}});
  EXPECT_EQ(second.recorder.count("paused", false), 1u);
  // The restored drop is firing in the detector: turning detection off resolves it, which only
  // happens for a series the detector knows to be firing.
  AlertsSettings off = testSettings();
  off.volumeDrop.enabled = false;
  second.service.reload(off);
  clock_.advanceMs(60'000);
  second.service.sampleOnce({DestinationSample{"tiktok", {}, 0, 0}});
  EXPECT_EQ(second.recorder.count("volume_drop", false), 1u);
}

}  // namespace
}  // namespace sluice::ops::alerts
