// The incident detector over synthetic sample sequences with a FakeClock, stored in a real
// incidents.db in a temporary directory.
#include "ops/incidents/detector.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "core/clock.h"

namespace sluice::ops::incidents {
namespace {

class TempDirectory {
 public:
  TempDirectory() {
    std::random_device random;
    path_ = (std::filesystem::temp_directory_path() /
             ("sluice-incidents-" + std::to_string(random()) + std::to_string(random())))
                .string();
    std::filesystem::create_directories(path_);
  }
  ~TempDirectory() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One destination whose counters a test moves, sampled every 5 s of fake time.
class DetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = IncidentStore::open(dir_.path());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    settings_.sampleIntervalMs = 5'000;
    settings_.backlogAgeThresholdMs = 60'000;
    settings_.drainedAgeMs = 1'000;
    settings_.openAfter = 2;
    settings_.closeAfter = 2;
    detector_ = std::make_unique<IncidentDetector>(*store_, settings_);
    ASSERT_TRUE(detector_->resume(clock_.nowMs()));
  }

  // Replies of `key` (counted as retried unless successful).
  void reply(const std::string& key, uint64_t n) {
    stats_.replies[key] += n;
    if (key != "0") stats_.retryReplies += n;
  }
  void deliver(uint64_t n) {
    stats_.itemsDelivered += n;
    stats_.replies["0"] += 1;
  }
  // Advances 5 s and samples with the given backlog.
  void sample(uint64_t backlog = 0, int64_t ageMs = 0) {
    clock_.advanceMs(5'000);
    DestinationSample s;
    s.stats = stats_;
    s.backlogEvents = backlog;
    s.oldestAgeMs = ageMs;
    auto r = detector_->observe(clock_.nowMs(), {{"tiktok", s}});
    ASSERT_TRUE(r) << r.error().message;
  }
  std::vector<Incident> stored() {
    auto list = store_->list({});
    EXPECT_TRUE(list) << list.error().message;
    return list ? *list : std::vector<Incident>{};
  }

  TempDirectory dir_;
  FakeClock clock_;
  config::IncidentsConfig settings_;
  std::unique_ptr<IncidentStore> store_;
  std::unique_ptr<IncidentDetector> detector_;
  delivery::DispatcherStats stats_;
};

TEST_F(DetectorTest, OutageOf500sIsOneIncidentWithItsFigures) {
  deliver(10);
  sample();  // baseline
  sample();
  const EpochMs outageStart = clock_.nowMs() + 5'000;
  // The outage: 500s, the breaker opens, the backlog grows.
  reply("http_500", 3);
  stats_.breaker = delivery::BreakerState::kOpen;
  sample(100, 5'000);
  EXPECT_TRUE(stored().empty());  // one degraded sample does not open an incident yet
  reply("http_500", 1);
  stats_.itemsDead += 1;
  sample(300, 10'000);
  ASSERT_EQ(stored().size(), 1u);
  EXPECT_EQ(stored()[0].state, IncidentState::kDegraded);
  EXPECT_EQ(stored()[0].startMs, outageStart);
  reply("http_500", 1);
  reply("timeout", 2);
  stats_.breaker = delivery::BreakerState::kHalfOpen;
  sample(500, 15'000);
  // Recovery: the breaker closes, the backlog drains over two samples.
  stats_.breaker = delivery::BreakerState::kClosed;
  deliver(400);
  const EpochMs recovered = clock_.nowMs() + 5'000;
  sample(100, 20'000);
  EXPECT_EQ(stored()[0].state, IncidentState::kDraining);
  EXPECT_EQ(stored()[0].recoveredMs, recovered);
  deliver(100);
  const EpochMs drained = clock_.nowMs() + 5'000;
  sample(0, 0);
  EXPECT_TRUE(stored()[0].open());  // one healthy sample is not enough to close
  deliver(50);                      // new traffic after the drain: not part of the incident
  sample(0, 0);
  deliver(20);
  sample(0, 0);

  const auto incidents = stored();
  ASSERT_EQ(incidents.size(), 1u);
  const Incident& i = incidents[0];
  EXPECT_EQ(i.destination, "tiktok");
  EXPECT_EQ(i.state, IncidentState::kClosed);
  EXPECT_EQ(i.startMs, outageStart);
  EXPECT_EQ(i.recoveredMs, recovered);
  EXPECT_EQ(i.endMs, drained);
  EXPECT_EQ(i.drainMs, drained - recovered);
  EXPECT_EQ(i.codes, (std::map<std::string, uint64_t>{{"http_500", 5}, {"timeout", 2}}));
  EXPECT_EQ(i.itemsDelayed, 500u);
  EXPECT_EQ(i.itemsDead, 1u);
  EXPECT_EQ(i.itemsExpired, 0u);
  EXPECT_EQ(i.maxBacklogEvents, 500u);
  EXPECT_EQ(i.maxBacklogAgeMs, 20'000);
  ASSERT_GE(i.timeline.size(), 3u);
  EXPECT_NE(i.timeline.front().text.find("circuit breaker open"), std::string::npos)
      << i.timeline.front().text;
  EXPECT_NE(i.timeline.back().text.find("drained"), std::string::npos) << i.timeline.back().text;
  EXPECT_TRUE(detector_->openIncidents().empty());
}

TEST_F(DetectorTest, TwoOutagesSeparatedByAHealthyPeriodAreTwoIncidents) {
  sample();
  for (int outage = 0; outage < 2; ++outage) {
    for (int i = 0; i < 3; ++i) {
      reply(outage == 0 ? "http_503" : "50000", 2);
      stats_.breaker = delivery::BreakerState::kOpen;
      sample(50, 1'000 * (i + 1));
    }
    stats_.breaker = delivery::BreakerState::kClosed;
    deliver(50);
    for (int i = 0; i < 6; ++i) sample();  // healthy and drained for 30 s
  }
  const auto incidents = stored();
  ASSERT_EQ(incidents.size(), 2u);
  EXPECT_EQ(incidents[0].codes, (std::map<std::string, uint64_t>{{"http_503", 6}}));
  EXPECT_EQ(incidents[1].codes, (std::map<std::string, uint64_t>{{"50000", 6}}));
  EXPECT_LT(incidents[0].endMs, incidents[1].startMs);
  for (const auto& i : incidents) {
    EXPECT_EQ(i.state, IncidentState::kClosed);
    EXPECT_EQ(i.itemsDelayed, 50u);
    EXPECT_EQ(i.maxBacklogEvents, 50u);
  }
}

TEST_F(DetectorTest, ASingleFailedRequestMakesNoIncident) {
  deliver(100);
  sample();
  reply("http_500", 1);  // one failure, retried successfully within the next interval
  sample(20, 600);
  deliver(20);
  sample();
  for (int i = 0; i < 5; ++i) {
    deliver(10);
    sample();
  }
  EXPECT_TRUE(stored().empty());
  EXPECT_TRUE(detector_->openIncidents().empty());
}

TEST_F(DetectorTest, DegradedAgainWhileDrainingContinuesTheSameIncident) {
  sample();
  reply("40100", 4);
  sample(200, 3'000);
  reply("40100", 4);
  sample(400, 8'000);
  deliver(100);
  sample(300, 13'000);  // healthy, not drained
  reply("40100", 2);
  sample(350, 18'000);  // degraded again
  deliver(350);
  sample();
  sample();
  const auto incidents = stored();
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].state, IncidentState::kClosed);
  EXPECT_EQ(incidents[0].codes.at("40100"), 10u);
  EXPECT_EQ(incidents[0].itemsDelayed, 450u);
  bool again = false;
  for (const auto& e : incidents[0].timeline) again |= e.text.find("degraded again") == 0;
  EXPECT_TRUE(again);
}

TEST_F(DetectorTest, PausedAndOldBacklogAreDegraded) {
  sample();
  stats_.paused = true;
  stats_.pauseReason = "40105 Access token is invalid";
  stats_.breaker = delivery::BreakerState::kPaused;
  sample(10, 2'000);
  sample(10, 7'000);
  ASSERT_EQ(stored().size(), 1u);
  EXPECT_NE(stored()[0].timeline[0].text.find("paused (40105"), std::string::npos);
  // Resumed, but the backlog is older than the threshold: still degraded.
  stats_.paused = false;
  stats_.breaker = delivery::BreakerState::kClosed;
  sample(10, 70'000);
  EXPECT_EQ(stored()[0].state, IncidentState::kDegraded);
  deliver(10);
  sample();
  sample();
  EXPECT_EQ(stored()[0].state, IncidentState::kClosed);
  EXPECT_EQ(stored()[0].maxBacklogAgeMs, 70'000);
}

TEST_F(DetectorTest, AnOpenIncidentIsContinuedAfterARestart) {
  sample();
  reply("http_500", 2);
  stats_.breaker = delivery::BreakerState::kOpen;
  sample(100, 1'000);
  sample(100, 6'000);
  ASSERT_EQ(stored().size(), 1u);
  const int64_t id = stored()[0].id;

  // The process stops; a new one starts (counters from zero) and delivery recovers.
  detector_.reset();
  store_.reset();
  auto reopened = IncidentStore::open(dir_.path());
  ASSERT_TRUE(reopened);
  store_ = std::move(*reopened);
  detector_ = std::make_unique<IncidentDetector>(*store_, settings_);
  clock_.advanceMs(60'000);
  ASSERT_TRUE(detector_->resume(clock_.nowMs()));
  ASSERT_EQ(detector_->openIncidents().size(), 1u);
  stats_ = {};
  sample(100, 70'000);  // baseline after the restart (the backlog is still there)
  deliver(100);
  sample();
  sample();
  const auto incidents = stored();
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].id, id);
  EXPECT_EQ(incidents[0].state, IncidentState::kClosed);
  EXPECT_EQ(incidents[0].itemsDelayed, 100u);
  EXPECT_EQ(incidents[0].maxBacklogAgeMs, 70'000);
  bool restarted = false;
  for (const auto& e : incidents[0].timeline) restarted |= e.text.find("sluice started again") == 0;
  EXPECT_TRUE(restarted);
}

TEST_F(DetectorTest, ARemovedDestinationHasItsIncidentClosed) {
  sample();
  reply("http_500", 2);
  stats_.breaker = delivery::BreakerState::kOpen;
  sample(10, 1'000);
  sample(10, 6'000);
  ASSERT_TRUE(stored()[0].open());
  clock_.advanceMs(5'000);
  ASSERT_TRUE(detector_->observe(clock_.nowMs(), {}));
  EXPECT_EQ(stored()[0].state, IncidentState::kClosed);
  EXPECT_EQ(stored()[0].endMs, clock_.nowMs());
}

TEST(IncidentStoreTest, QueriesByDestinationAndTimeAndCanaryResults) {
  TempDirectory dir;
  auto store = IncidentStore::open(dir.path());
  ASSERT_TRUE(store);
  for (int i = 0; i < 4; ++i) {
    Incident incident;
    incident.destination = i % 2 == 0 ? "a" : "b";
    incident.state = i == 3 ? IncidentState::kDegraded : IncidentState::kClosed;
    incident.startMs = 1'000 * i;
    incident.endMs = i == 3 ? 0 : 1'000 * i + 500;
    incident.codes = {{"http_500", static_cast<uint64_t>(i + 1)}};
    incident.timeline = {{incident.startMs, "start " + std::to_string(i)}};
    ASSERT_TRUE((*store)->insert(incident));
  }
  IncidentQuery query;
  query.destination = "a";
  auto a = (*store)->list(query);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].startMs, 0);  // oldest first
  EXPECT_EQ((*a)[1].codes.at("http_500"), 3u);
  EXPECT_EQ((*a)[1].timeline.at(0).text, "start 2");
  query = {};
  query.sinceMs = 2'000;  // closed ones ending before are left out; the open one stays
  auto recent = (*store)->list(query);
  ASSERT_TRUE(recent);
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ((*recent)[0].startMs, 2'000);
  EXPECT_TRUE((*recent)[1].open());
  auto open = (*store)->openIncidents();
  ASSERT_TRUE(open);
  EXPECT_EQ(open->size(), 1u);

  for (int i = 0; i < 3; ++i) {
    CanaryResult r;
    r.destination = "a";
    r.timeMs = i;
    r.ok = i != 1;
    r.code = i == 1 ? "40105" : "0";
    ASSERT_TRUE((*store)->recordCanary(r));
  }
  auto results = (*store)->canaryResults("a", 2);
  ASSERT_TRUE(results);
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].timeMs, 2);  // newest first
  EXPECT_EQ((*results)[1].code, "40105");
  EXPECT_FALSE((*results)[1].ok);
  EXPECT_TRUE((*store)->canaryResults("b", 5)->empty());

  // A reader that must not create the file.
  TempDirectory empty;
  auto missing = IncidentStore::open(empty.path(), /*create=*/false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace sluice::ops::incidents
