// Canary events with the fake HTTP client and a FakeClock: the request TikTok would receive, the
// verdicts, what is recorded, the listener, and the schedule; the destination's own timeouts, with
// the real HTTPS client against a server that never completes the TLS handshake.
#include "ops/incidents/canary.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <random>

#include "core/clock.h"
#include "delivery/http_client.h"
#include "delivery/http_client_fake.h"
#include "ops/incidents/report.h"
#include "reserved_port.h"

namespace sluice::ops::incidents {
namespace {

using delivery::FakeHttpClient;

config::DestinationConfig destination(const std::string& name, bool canary = true) {
  config::DestinationConfig d;
  d.name = name;
  d.type = "tiktok-conversions";
  d.settings.accessToken = "secret-token-" + name;
  d.settings.pixelCode = "CPIXEL" + name;
  d.settings.apiUrl = "http://127.0.0.1:9/open_api/v1.3/event/track/";
  d.settings.testEventCode = "TEST" + name;
  d.canaryEnabled = canary;
  d.canaryIntervalMs = 60'000;
  d.flow.requestTimeoutMs = 2'000;
  d.flow.connectTimeoutMs = 1'000;
  return d;
}

class CanaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = (std::filesystem::temp_directory_path() /
            ("sluice-canary-" + std::to_string(random()) + std::to_string(random())))
               .string();
    auto store = IncidentStore::open(dir_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    runner_ = std::make_unique<CanaryRunner>(client_, *store_, clock_);
    runner_->setListener([this](const CanaryResult& r) { heard_.push_back(r); });
  }
  void TearDown() override {
    runner_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
  FakeClock clock_;
  FakeHttpClient client_;
  std::unique_ptr<IncidentStore> store_;
  std::unique_ptr<CanaryRunner> runner_;
  std::vector<CanaryResult> heard_;
};

TEST_F(CanaryTest, RequestIsAValidTikTokTestEvent) {
  auto post = buildCanaryRequest(destination("main"), clock_.nowMs(), "canary-1");
  ASSERT_TRUE(post) << post.error().message;
  EXPECT_EQ(post->url, "http://127.0.0.1:9/open_api/v1.3/event/track/");
  bool token = false;
  for (const auto& [name, value] : post->headers) {
    if (name == "Access-Token") token = value == "secret-token-main";
  }
  EXPECT_TRUE(token);
  const auto body = boost::json::parse(post->body).as_object();
  EXPECT_EQ(body.at("test_event_code").as_string(), "TESTmain");
  EXPECT_EQ(body.at("event_source_id").as_string(), "CPIXELmain");
  EXPECT_EQ(body.at("event_source").as_string(), "web");
  const auto& data = body.at("data").as_array();
  ASSERT_EQ(data.size(), 1u);
  const auto& item = data[0].as_object();
  EXPECT_EQ(item.at("event").as_string(), "ViewContent");
  EXPECT_EQ(item.at("event_id").as_string(), "canary-1");
  EXPECT_EQ(item.at("event_time").as_int64(), clock_.nowMs() / 1000);
  // The external id is hashed like every PII field (64 lower-case hex characters).
  const auto& externalId = item.at("user").as_object().at("external_id");
  const std::string hashed = externalId.is_array()
                                 ? std::string(externalId.as_array()[0].as_string())
                                 : std::string(externalId.as_string());
  EXPECT_EQ(hashed.size(), 64u);
  EXPECT_EQ(post->body.find("sluice-canary\""), std::string::npos);  // not sent in clear

  auto noCode = destination("other");
  noCode.settings.testEventCode.clear();
  auto refused = buildCanaryRequest(noCode, clock_.nowMs(), "canary-2");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(CanaryTest, AcceptedCanaryIsRecordedOk) {
  client_.setResponder([](const delivery::HttpPost&) { return FakeHttpClient::tikTokCode(0); });
  auto result = runner_->runNow(destination("main"));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->ok);
  EXPECT_EQ(result->verdict, "delivered");
  EXPECT_EQ(result->code, "0");
  EXPECT_EQ(result->latencyMs, 1);
  EXPECT_EQ(result->timeMs, clock_.nowMs());
  ASSERT_EQ(client_.sentCount(), 1u);
  auto stored = store_->canaryResults("main", 10);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_TRUE((*stored)[0].ok);
  ASSERT_EQ(heard_.size(), 1u);
  EXPECT_TRUE(heard_[0].ok);
  EXPECT_TRUE(runner_->lastResults().at("main").ok);
}

TEST_F(CanaryTest, FailuresAreClassifiedLikeDelivery) {
  const auto d = destination("main");
  client_.setResponder(
      [](const delivery::HttpPost&) { return FakeHttpClient::tikTokCode(40105, "Invalid token"); });
  auto paused = runner_->runNow(d);
  ASSERT_TRUE(paused);
  EXPECT_FALSE(paused->ok);
  EXPECT_EQ(paused->verdict, "pause");
  EXPECT_EQ(paused->code, "40105");
  EXPECT_EQ(paused->message, "Invalid token");

  client_.setResponder(
      [](const delivery::HttpPost&) { return FakeHttpClient::reply(500, "oops"); });
  auto server = runner_->runNow(d);
  ASSERT_TRUE(server);
  EXPECT_FALSE(server->ok);
  EXPECT_EQ(server->verdict, "retry");
  EXPECT_EQ(server->code, "http_500");

  client_.setResponder([](const delivery::HttpPost&) {
    return FakeHttpClient::transportFailure(delivery::TransportError::kTimeout);
  });
  auto timeout = runner_->runNow(d);
  ASSERT_TRUE(timeout);
  EXPECT_FALSE(timeout->ok);
  EXPECT_EQ(timeout->code, "timeout");

  client_.setResponder([](const delivery::HttpPost&) {
    return FakeHttpClient::tikTokCode(40002, "event_time is invalid");
  });
  auto dead = runner_->runNow(d);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->verdict, "dead");

  client_.setResponder([](const delivery::HttpPost&) { return FakeHttpClient::tikTokCode(0); });
  ASSERT_TRUE(runner_->runNow(d));
  // The listener heard every result in order: four failures, then the success that resolves them.
  ASSERT_EQ(heard_.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(heard_[i].ok);
  EXPECT_TRUE(heard_[4].ok);
  auto stored = store_->canaryResults("main", 10);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 5u);
  EXPECT_EQ((*stored)[4].code, "40105");  // newest first
  // No secret in what is recorded or rendered.
  const std::string json = canaryJson(*stored);
  EXPECT_EQ(json.find("secret-token"), std::string::npos);
  EXPECT_NE(json.find("\"code\":\"40105\""), std::string::npos) << json;
}

TEST_F(CanaryTest, ScheduleFollowsTheIntervalOfEachEnabledDestination) {
  client_.setResponder([](const delivery::HttpPost&) { return FakeHttpClient::tikTokCode(0); });
  auto slow = destination("slow");
  slow.canaryIntervalMs = 300'000;
  auto disabled = destination("disabled", /*canary=*/false);
  runner_->configure({destination("main"), slow, disabled});
  EXPECT_EQ(runner_->runDue(), 2);  // both enabled ones are due at once
  EXPECT_EQ(runner_->runDue(), 0);
  clock_.advanceMs(59'999);
  EXPECT_EQ(runner_->runDue(), 0);
  clock_.advanceMs(1);
  EXPECT_EQ(runner_->runDue(), 1);  // main, every minute
  clock_.advanceMs(240'000);
  EXPECT_EQ(runner_->runDue(), 2);  // main and slow (5 minutes)
  EXPECT_EQ(client_.sentCount(), 5u);
  EXPECT_EQ(runner_->lastResults().count("disabled"), 0u);
  // A reload that keeps a destination keeps its schedule.
  runner_->configure({destination("main")});
  EXPECT_EQ(runner_->runDue(), 0);
}

TEST_F(CanaryTest, AnUnansweredCanaryTimesOutAndStopCancelsTheWait) {
  // No responder: the request stays pending. The wait is bounded by connect + request + 5 s; here
  // stop() from another thread ends it early without recording anything.
  std::thread stopper([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    runner_->stop();
  });
  const auto start = std::chrono::steady_clock::now();
  auto result = runner_->runNow(destination("main"));
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kCancelled);
  EXPECT_TRUE(store_->canaryResults("", 10)->empty());
  client_.completeAll(FakeHttpClient::tikTokCode(0));  // a late reply is harmless
}

TEST_F(CanaryTest, EachConnectTimeoutHasItsOwnClient) {
  std::vector<int64_t> made;
  std::vector<FakeHttpClient*> clients;
  CanaryRunner runner(
      [&](std::chrono::milliseconds connectTimeout) {
        made.push_back(connectTimeout.count());
        auto client = std::make_unique<FakeHttpClient>();
        client->setResponder(
            [](const delivery::HttpPost&) { return FakeHttpClient::tikTokCode(0); });
        clients.push_back(client.get());
        return std::unique_ptr<delivery::HttpClient>(std::move(client));
      },
      *store_, clock_);
  auto a = destination("a"), b = destination("b"), c = destination("c");
  a.flow.connectTimeoutMs = 700;
  b.flow.connectTimeoutMs = 700;
  c.flow.connectTimeoutMs = 2'500;
  c.flow.requestTimeoutMs = 9'000;
  for (const auto* d : {&a, &b, &c, &a}) {
    auto result = runner.runNow(*d);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_TRUE(result->ok);
  }
  EXPECT_EQ(made, (std::vector<int64_t>{700, 2'500}));
  ASSERT_EQ(clients.size(), 2u);
  EXPECT_EQ(clients[0]->sentCount(), 3u);
  ASSERT_EQ(clients[1]->sentCount(), 1u);
  EXPECT_EQ(clients[1]->sent().at(0).timeout, std::chrono::milliseconds(9'000));
}

TEST_F(CanaryTest, TheDestinationsConnectTimeoutBoundsTheConnection) {
  const sluice::testing::ReservedPort silent(sluice::testing::ReservedPort::Mode::kNeverAccepts);
  CanaryRunner runner(
      [](std::chrono::milliseconds connectTimeout) {
        delivery::HttpClientOptions options;
        options.connectTimeout = connectTimeout;
        return std::unique_ptr<delivery::HttpClient>(delivery::makeBeastHttpClient(options));
      },
      *store_, clock_);
  auto d = destination("slow");
  d.settings.apiUrl =
      "https://127.0.0.1:" + std::to_string(silent.port()) + "/open_api/v1.3/event/track/";
  d.flow.connectTimeoutMs = 300;
  d.flow.requestTimeoutMs = 300;
  const auto start = std::chrono::steady_clock::now();
  auto result = runner.runNow(d);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->ok);
  EXPECT_EQ(result->code, "timeout") << result->message;
  // 300 ms configured; the client's default connect timeout is 5 s.
  EXPECT_LT(elapsed, std::chrono::milliseconds(2'500));
}

}  // namespace
}  // namespace sluice::ops::incidents
