// GET /metrics on the real `sluice serve` binary with a destination pointed at the in-process fake
// TikTok: a known workload (valid, invalid, unmatched, duplicate, unauthorized), then exact values
// scraped after delivery; the admin token is required and no secret appears in the exposition.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/time.h"
#include "exposition_text.h"
#include "integration/harness.h"
#include "integration/mock_tiktok_harness.h"
#include "mocktiktok/mock_server.h"
#include "mocktiktok/scenario.h"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kAdminToken = "metrics-admin-token-7f3a9c";
constexpr const char* kWriteKey = "metrics-write-key-51bd02";
constexpr const char* kAccessToken = "tiktok-access-token-e4c881";

std::string trackEvent(const std::string& name, const std::string& messageId, EpochMs timeMs) {
  return "{\"type\":\"track\",\"event\":\"" + name + "\",\"messageId\":\"" + messageId +
         "\",\"userId\":\"u-" + messageId + "\",\"timestamp\":\"" + formatIsoTime(timeMs) +
         "\",\"context\":{\"traits\":{\"email\":\"" + messageId +
         "@example.com\"},\"page\":{\"url\":\"https://shop.example.com/p\"}},"
         "\"properties\":{\"order_id\":\"o-" +
         messageId +
         "\",\"product_id\":\"p1\",\"total\":19.99,\"price\":19.99,\"currency\":\"USD\","
         "\"products\":[{\"product_id\":\"p1\",\"price\":19.99,\"quantity\":1}]}}";
}

// "o12" for ('o', 12).
std::string messageId(char prefix, int i) {
  std::string id(1, prefix);
  id += std::to_string(i);
  return id;
}

class MetricsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = startMock();
    ASSERT_NE(mock_, nullptr);
    ServeSpec spec;
    spec.sources = {{"web", kWriteKey}};
    spec.extraServerYaml = std::string("  admin_token: ") + kAdminToken + "\n";
    spec.extraYaml = std::string(
                         "destinations:\n"
                         "  - name: tiktok\n"
                         "    type: tiktok-conversions\n"
                         "    settings:\n"
                         "      access_token: ") +
                     kAccessToken +
                     "\n"
                     "      pixel_code: CMETRICS00000000000\n"
                     "      api_url: " +
                     mock_->trackUrl() +
                     "\n"
                     "    presets: all\n"
                     "    batch:\n"
                     "      linger: 100ms\n";
    server_ = std::make_unique<SluiceServer>(dir_.path(), spec);
    ASSERT_TRUE(server_->start()) << server_->stderrText();
  }

  std::optional<RawResponse> scrape(const std::string& authorization) const {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!authorization.empty()) headers.emplace_back("Authorization", authorization);
    return server_->request("GET", "/metrics", headers);
  }
  std::string scrapeText() const {
    auto reply = scrape(std::string("Bearer ") + kAdminToken);
    return reply && reply->status == 200 ? reply->body : std::string();
  }

  TempDir dir_;
  std::unique_ptr<mocktiktok::MockServer> mock_;
  std::unique_ptr<SluiceServer> server_;
};

TEST_F(MetricsIntegrationTest, ExactValuesAfterAKnownWorkload) {
  const EpochMs now = SystemClock::instance().nowMs();
  constexpr int kOrders = 40;    // -> PlaceAnOrder
  constexpr int kCartAdds = 10;  // -> AddToCart
  constexpr int kUnmatched = 5;  // no preset matches "Newsletter Opened"
  // Batch 1: the valid events and three invalid ones (two miss a field, one has a bad type).
  std::string batch = "{\"batch\":[";
  for (int i = 0; i < kOrders; ++i) {
    batch += trackEvent("Order Completed", messageId('o', i), now) + ",";
  }
  for (int i = 0; i < kCartAdds; ++i) {
    batch += trackEvent("Product Added", messageId('a', i), now) + ",";
  }
  batch += R"({"type":"track","userId":"u"},{"type":"track","event":"X"},)";
  batch += R"({"type":"bogus","userId":"u"}]})";
  auto first = server_->post("/v1/batch", batch, kWriteKey);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  // Batch 2: events for no subscription.
  batch = "{\"batch\":[";
  for (int i = 0; i < kUnmatched; ++i) {
    batch += (i ? "," : "") + trackEvent("Newsletter Opened", messageId('n', i), now);
  }
  batch += "]}";
  auto second = server_->post("/v1/batch", batch, kWriteKey);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200) << second->body;
  // A duplicate (same messageId), a body that is not JSON, a wrong write key.
  auto duplicate = server_->post("/v1/track", trackEvent("Order Completed", "o0", now), kWriteKey);
  ASSERT_TRUE(duplicate);
  EXPECT_EQ(duplicate->status, 200);
  auto malformed = server_->post("/v1/track", "{\"event\":", kWriteKey);
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  auto unauthorized = server_->post("/v1/track", trackEvent("Order Completed", "z", now), "nope");
  ASSERT_TRUE(unauthorized);
  EXPECT_EQ(unauthorized->status, 401);

  // Wait (bounded) until everything is delivered and the cursor has passed every event.
  std::string text;
  const std::string tiktok = R"(destination="tiktok")";
  ASSERT_TRUE(waitFor(
      [&] {
        text = scrapeText();
        return valueOf(text, R"(sluice_events_delivered_total{)" + tiktok +
                                 R"(,event="PlaceAnOrder"})") == kOrders &&
               valueOf(text, R"(sluice_events_delivered_total{)" + tiktok +
                                 R"(,event="AddToCart"})") == kCartAdds &&
               valueOf(text, "sluice_delivery_backlog_events{" + tiktok + "}") == 0;
      },
      30'000))
      << text << "\nfake TikTok accepted " << mock_->mock().stats().eventsAccepted << " in "
      << mock_->mock().stats().requests << " requests\n"
      << server_->stderrText();

  // Ingestion, by source.
  const std::string web = R"(source="web")";
  EXPECT_EQ(valueOf(text, "sluice_events_received_total{" + web + "}"),
            kOrders + kCartAdds + 3 + kUnmatched + 1 + 1);
  EXPECT_EQ(valueOf(text, "sluice_events_stored_total{" + web + "}"),
            kOrders + kCartAdds + kUnmatched);
  EXPECT_EQ(valueOf(text, "sluice_events_duplicate_total{" + web + "}"), 1);
  EXPECT_EQ(valueOf(text, R"(sluice_events_rejected_total{reason="missing_field",)" + web + "}"),
            2);
  EXPECT_EQ(valueOf(text, R"(sluice_events_rejected_total{reason="invalid_field",)" + web + "}"),
            1);
  EXPECT_EQ(
      valueOf(text, R"(sluice_events_rejected_total{reason="malformed_request",)" + web + "}"), 1);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="batch",status="200"})"), 2);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="track",status="200"})"), 1);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="track",status="400"})"), 1);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="track",status="401"})"), 1);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_request_duration_seconds_count{route="batch"})"), 2);

  // Delivery, by destination and event name, checked against what the fake TikTok accepted.
  EXPECT_EQ(mock_->mock().stats().eventsAccepted, static_cast<uint64_t>(kOrders + kCartAdds));
  EXPECT_EQ(valueOf(text, "sluice_events_mapped_total{" + tiktok + R"(,event="PlaceAnOrder"})"),
            kOrders);
  EXPECT_EQ(valueOf(text, "sluice_events_mapped_total{" + tiktok + R"(,event="AddToCart"})"),
            kCartAdds);
  EXPECT_EQ(valueOf(text, "sluice_events_dead_total{" + tiktok + R"(,event="PlaceAnOrder"})"), 0);
  EXPECT_EQ(valueOf(text, "sluice_events_read_total{" + tiktok + "}"),
            kOrders + kCartAdds + kUnmatched);
  EXPECT_EQ(valueOf(text, "sluice_events_unmatched_total{" + tiktok + "}"), kUnmatched);
  const auto requests = valueOf(text, "sluice_delivery_requests_total{" + tiktok + "}");
  ASSERT_TRUE(requests);
  EXPECT_GE(*requests, 1);
  EXPECT_EQ(*requests, static_cast<double>(mock_->mock().stats().requests));
  EXPECT_EQ(valueOf(text, R"(sluice_delivery_replies_total{code="0",)" + tiktok + "}"), *requests);
  EXPECT_EQ(valueOf(text, "sluice_delivery_request_duration_seconds_count{" + tiktok + "}"),
            *requests);
  EXPECT_EQ(valueOf(text, "sluice_delivery_retries_total{" + tiktok + "}"), 0);
  EXPECT_EQ(valueOf(text, "sluice_events_retried_total{" + tiktok + "}"), 0);
  EXPECT_EQ(valueOf(text, "sluice_delivery_paused{" + tiktok + "}"), 0);
  EXPECT_EQ(valueOf(text, "sluice_delivery_breaker_state{" + tiktok + R"(,state="closed"})"), 1);
  EXPECT_EQ(valueOf(text, "sluice_delivery_backlog_age_seconds{" + tiktok + "}"), 0);
  EXPECT_GT(*valueOf(text, "sluice_delivery_concurrency_limit{" + tiktok + "}"), 0);
  EXPECT_GT(*valueOf(text, "sluice_delivery_last_delivered_timestamp_seconds{" + tiktok + "}"),
            static_cast<double>(now) / 1000.0 - 1);
  EXPECT_GT(*valueOf(text, "sluice_store_size_bytes"), 0);
  EXPECT_GT(*valueOf(text, "sluice_store_free_bytes"), 0);
  EXPECT_GE(*valueOf(text, "sluice_store_flushes_total"), 2);  // on open, and for the events
  EXPECT_GT(*valueOf(text, "sluice_store_flush_seconds_total"), 0);
  EXPECT_EQ(valueOf(text, "sluice_store_flush_failures_total"), 0);

  // No secret anywhere in the exposition.
  EXPECT_THAT(text, Not(HasSubstr(kAdminToken)));
  EXPECT_THAT(text, Not(HasSubstr(kWriteKey)));
  EXPECT_THAT(text, Not(HasSubstr(kAccessToken)));
}

TEST_F(MetricsIntegrationTest, RetriedCountsEventsSentAgainNotRequests) {
  // The fake TikTok answers HTTP 500 until a few bodies were refused, then accepts: the 30 events
  // travel in one body, so every request after the first sends the same 30 events again.
  auto failing = mocktiktok::parseScenario("- mode: http500\n");
  ASSERT_TRUE(failing) << failing.error().toString();
  mock_->mock().setScenario(*failing);
  constexpr int kEvents = 30;
  const EpochMs now = SystemClock::instance().nowMs();
  std::string batch = "{\"batch\":[";
  for (int i = 0; i < kEvents; ++i) {
    batch += (i ? "," : "") + trackEvent("Order Completed", messageId('r', i), now);
  }
  batch += "]}";
  auto posted = server_->post("/v1/batch", batch, kWriteKey);
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 200) << posted->body;
  const std::string tiktok = R"(destination="tiktok")";
  std::string text;
  ASSERT_TRUE(waitFor([&] { return mock_->mock().stats().requests >= 3; }, 30'000))
      << server_->stderrText();
  mock_->mock().setScenario(mocktiktok::Scenario{});
  ASSERT_TRUE(waitFor(
      [&] {
        text = scrapeText();
        return valueOf(text, R"(sluice_events_delivered_total{)" + tiktok +
                                 R"(,event="PlaceAnOrder"})") == kEvents;
      },
      30'000))
      << text << server_->stderrText();
  const auto requests = valueOf(text, "sluice_delivery_requests_total{" + tiktok + "}");
  ASSERT_TRUE(requests);
  ASSERT_GE(*requests, 3);
  EXPECT_EQ(*requests, static_cast<double>(mock_->mock().stats().requests));
  EXPECT_EQ(valueOf(text, "sluice_events_retried_total{" + tiktok + "}"), kEvents * (*requests - 1))
      << text;
}

TEST_F(MetricsIntegrationTest, NeedsTheAdminToken) {
  auto none = scrape("");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_THAT(none->body, Not(HasSubstr("sluice_")));
  auto wrong = scrape("Bearer not-the-token");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_THAT(wrong->body, Not(HasSubstr("not-the-token")));
  auto right = scrape(std::string("Bearer ") + kAdminToken);
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200);
  EXPECT_THAT(right->headers, ::testing::Contains(::testing::Pair(
                                  "content-type", HasSubstr("text/plain; version=0.0.4"))))
      << right->body;
  EXPECT_THAT(right->body, HasSubstr("# TYPE sluice_events_received_total counter"));
  // The configured source and destination have series before any traffic.
  EXPECT_EQ(valueOf(right->body, R"(sluice_events_received_total{source="web"})"), 0);
  EXPECT_EQ(valueOf(right->body, R"(sluice_delivery_backlog_events{destination="tiktok"})"), 0);
}

TEST_F(MetricsIntegrationTest, WrongTokensAreThrottledPerAddressAcrossAdminRoutes) {
  const std::string right = std::string("Bearer ") + kAdminToken;
  // Right tokens give their attempt back: scraping often never throttles.
  for (int i = 0; i < 8; ++i) {
    auto reply = scrape(right);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200) << i;
  }
  // Requests without any token guess nothing and are not counted.
  for (int i = 0; i < 8; ++i) {
    auto reply = scrape("");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 401) << i;
  }
  // Five wrong tokens from this address (the default burst), spread over the admin routes: a
  // header on /metrics, a forged cookie on the dashboard's API, a header on the dashboard's API.
  for (int i = 0; i < 3; ++i) {
    auto reply = scrape("Bearer guess-" + std::to_string(i));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 401) << i;
  }
  auto cookie = server_->request("GET", "/api/summary", {{"Cookie", "sluice_admin=guess-3"}});
  ASSERT_TRUE(cookie);
  EXPECT_EQ(cookie->status, 401);
  auto header = server_->request("GET", "/api/config", {{"Authorization", "Bearer guess-4"}});
  ASSERT_TRUE(header);
  EXPECT_EQ(header->status, 401);
  // Now every admin route answers 429 with Retry-After, and does not even compare the token.
  auto throttled = scrape("Bearer guess-5");
  ASSERT_TRUE(throttled);
  EXPECT_EQ(throttled->status, 429) << throttled->body;
  const std::string retryAfter(throttled->header("retry-after"));
  ASSERT_FALSE(retryAfter.empty());
  EXPECT_GE(std::stoi(retryAfter), 1);
  EXPECT_LE(std::stoi(retryAfter), 12);
  auto rightScrape = scrape(right);
  ASSERT_TRUE(rightScrape);
  EXPECT_EQ(rightScrape->status, 429);
  EXPECT_THAT(rightScrape->body, Not(HasSubstr("sluice_")));
  auto api = server_->request("GET", "/api/summary", {{"Authorization", right}});
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 429);
  auto login = server_->request("POST", "/api/login", {{"Content-Type", "application/json"}},
                                std::string("{\"token\":\"") + kAdminToken + "\"}");
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 429);
  EXPECT_TRUE(login->header("set-cookie").empty());
  // The routes outside the admin token still answer.
  auto health = server_->request("GET", "/healthz", {});
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace sluice::testing
