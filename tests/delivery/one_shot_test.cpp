// One-shot delivery (`sluice dlq retry`, the dashboard's retry, `sluice replay`) over the real
// TikTok codec and a fake HTTP client, and the replay feed over the real SQLite log.
#include "delivery/one_shot.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "delivery/http_client_fake.h"
#include "store/sqlite_log.h"
#include "store/store_test_util.h"

namespace sluice::delivery {
namespace {

constexpr const char* kConfig = R"(
sources:
  - name: web
    write_key: k
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings:
      access_token: t
      pixel_code: CONESHOT00000000000
      api_url: http://127.0.0.1:1/open_api/v1.3/event/track/
    presets: all
    flow:
      backoff_base: 10ms
      backoff_cap: 50ms
)";

// Without a timestamp: the event's time is its receipt, now (events older than the destination's
// max_event_age would be expired, not sent).
std::string orderJson(int i) {
  return R"({"type":"track","event":"Order Completed","messageId":"m)" + std::to_string(i) +
         R"(","userId":"u1","properties":{"order_id":"o1"}})";
}

std::vector<store::StoredEvent> orders(int count) {
  std::vector<store::StoredEvent> events;
  for (int i = 1; i <= count; ++i) {
    store::StoredEvent e;
    e.seq = static_cast<store::Seq>(i);
    e.source = "web";
    e.messageId = "m" + std::to_string(i);
    e.receivedAtMs = e.timestampMs = SystemClock::instance().nowMs();
    e.json = orderJson(i);
    events.push_back(std::move(e));
  }
  return events;
}

class OneShotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto state = store::openSqliteDeliveryState(dir_.path(), SystemClock::instance());
    ASSERT_TRUE(state) << state.error().toString();
    state_ = std::move(*state);
    auto config = config::parseConfig(kConfig, "test.yaml");
    ASSERT_TRUE(config) << config.error().toString();
    destination_ = config->destinations.at(0);
  }
  store::testing::TempDir dir_;  // declared first: removed after the state is closed
  std::unique_ptr<store::DeliveryState> state_;
  config::DestinationConfig destination_;
  FakeHttpClient http_;
};

TEST_F(OneShotTest, DeliversEveryEventAndReturnsTheCounts) {
  http_.setResponder([](const HttpPost&) { return FakeHttpClient::tikTokCode(0); });
  OneShotOptions options;
  options.client = &http_;
  options.timeoutMs = 20'000;
  auto stats = runOneShot(destination_, std::make_unique<ListFeed>(orders(3)), *state_, options);
  ASSERT_TRUE(stats) << stats.error().toString();
  EXPECT_EQ(stats->itemsDelivered, 3u);
  ASSERT_FALSE(http_.sent().empty());
  EXPECT_NE(http_.sent()[0].body.find(R"("event_id":"m1")"), std::string::npos);
}

// While TikTok fails throughout, the run is a failure when its time is up, never a success with
// nothing delivered: the callers keep the dead letters they retried only on failure.
TEST_F(OneShotTest, ARunThatCannotDeliverFailsWhenItsTimeIsUp) {
  http_.setResponder(
      [](const HttpPost&) { return FakeHttpClient::reply(500, "<html>down</html>"); });
  OneShotOptions options;
  options.client = &http_;
  options.timeoutMs = 300;
  auto stats = runOneShot(destination_, std::make_unique<ListFeed>(orders(3)), *state_, options);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, ErrorCode::kUnavailable) << stats.error().toString();
  EXPECT_FALSE(http_.sent().empty());
}

// Replay reads the events received in [since, until) and nothing else, in seq order.
TEST_F(OneShotTest, TheReplayFeedReadsOnlyTheEventsReceivedInTheRange) {
  store::SqliteLogOptions logOptions;
  logOptions.directory = dir_.path() + "/log";
  logOptions.minFreeBytes = 0;
  auto log = store::openSqliteLog(logOptions);
  ASSERT_TRUE(log) << log.error().toString();
  store::AppendRequest request;
  for (int i = 1; i <= 9; ++i) {  // received 1 s apart
    request.events.push_back(store::testing::makeEvent("web", "m" + std::to_string(i), 1'000 * i));
  }
  ASSERT_TRUE((*log)->appendSync(std::move(request)));
  auto feed = RangeFeed::open(**log, store::TimeRange{3'000, 6'000});
  ASSERT_TRUE(feed) << feed.error().toString();
  std::vector<std::string> ids;
  std::vector<store::StoredEvent> chunk;
  for (int guard = 0; guard < 100 && !(*feed)->finished(); ++guard) {
    auto n = (*feed)->read(2, chunk);
    ASSERT_TRUE(n) << n.error().toString();
    for (size_t i = 0; i < *n; ++i) ids.push_back(chunk[i].messageId);
  }
  EXPECT_TRUE((*feed)->finished());
  EXPECT_EQ(ids, (std::vector<std::string>{"m3", "m4", "m5"}));
}

}  // namespace
}  // namespace sluice::delivery
