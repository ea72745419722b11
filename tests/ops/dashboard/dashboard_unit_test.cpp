// Unit tests of the dashboard's pure parts: the per-minute history, the HTTP reply parsing of
// `sluice status`, the status text and the embedded web files.
#include <gtest/gtest.h>

#include <string>

#include "ops/dashboard/embedded_files.h"
#include "ops/dashboard/http_get.h"
#include "ops/dashboard/status_report.h"
#include "ops/dashboard/throughput_history.h"

namespace sluice::ops::dashboard {
namespace {

constexpr EpochMs kStart = 1'717'243'200'000;  // a minute boundary

delivery::DispatcherStats stats(std::map<std::string, delivery::EventNameCounts> byName,
                                uint64_t retryReplies = 0) {
  delivery::DispatcherStats s;
  s.byEventName = std::move(byName);
  s.retryReplies = retryReplies;
  return s;
}

uint64_t total(const std::vector<MinuteCounts>& counts, uint64_t MinuteCounts::*field) {
  uint64_t sum = 0;
  for (const auto& c : counts) sum += c.*field;
  return sum;
}

TEST(ThroughputHistoryTest, GrowthGoesToTheMinuteOfTheSample) {
  ThroughputHistory history(60);
  history.sample(kStart + 5'000, {{"tt", stats({{"Purchase", {10, 8, 1, 0}}})}});
  history.sample(kStart + 50'000, {{"tt", stats({{"Purchase", {15, 14, 1, 0}}})}});
  history.sample(kStart + 70'000,
                 {{"tt", stats({{"Purchase", {20, 20, 1, 0}}, {"AddToCart", {3, 3, 0, 0}}}, 2)}});
  // Minute 3 gets nothing; minute 4 more.
  history.sample(kStart + 200'000,
                 {{"tt", stats({{"Purchase", {21, 21, 1, 0}}, {"AddToCart", {3, 3, 0, 0}}}, 2)}});
  ThroughputSeries s = history.series("tt", kStart - 3'600'000, kStart + 200'000);
  ASSERT_EQ(s.minutes.size(), 4u);  // not before the first sample
  EXPECT_EQ(s.minutes.front(), kStart);
  const auto& purchase = s.byEventName.at("Purchase");
  EXPECT_EQ(purchase[0].mapped, 15u);
  EXPECT_EQ(purchase[0].delivered, 14u);
  EXPECT_EQ(purchase[0].dead, 1u);
  EXPECT_EQ(purchase[1].mapped, 5u);
  EXPECT_EQ(purchase[1].delivered, 6u);
  EXPECT_EQ(purchase[2].mapped, 0u);
  EXPECT_EQ(purchase[3].mapped, 1u);
  EXPECT_EQ(total(purchase, &MinuteCounts::mapped), 21u);
  EXPECT_EQ(total(s.byEventName.at("AddToCart"), &MinuteCounts::delivered), 3u);
  EXPECT_EQ(s.byEventName.at("AddToCart")[0].mapped, 0u);
  EXPECT_EQ(s.retryReplies[1], 2u);
  EXPECT_EQ(history.retryRepliesSince("tt", kStart + 60'000), 2u);
  EXPECT_EQ(history.retryRepliesSince("tt", kStart + 120'000), 0u);
  EXPECT_TRUE(history.series("other", kStart, kStart + 200'000).minutes.empty());
}

TEST(ThroughputHistoryTest, SinceSelectsMinutesAndOldOnesAreDropped) {
  ThroughputHistory history(5);
  for (int minute = 0; minute < 10; ++minute) {
    history.sample(kStart + minute * kMinuteMs,
                   {{"tt", stats({{"Purchase", {uint64_t(minute + 1) * 10, 0, 0, 0}}})}});
  }
  const EpochMs now = kStart + 9 * kMinuteMs + 30'000;
  ThroughputSeries all = history.series("tt", kStart, now);
  ASSERT_EQ(all.minutes.size(), 5u);  // at most maxMinutes
  EXPECT_EQ(all.minutes.front(), kStart + 5 * kMinuteMs);
  for (const auto& c : all.byEventName.at("Purchase")) EXPECT_EQ(c.mapped, 10u);
  ThroughputSeries recent = history.series("tt", kStart + 8 * kMinuteMs + 1, now);
  ASSERT_EQ(recent.minutes.size(), 2u);
  EXPECT_EQ(recent.minutes.front(), kStart + 8 * kMinuteMs);
}

TEST(ThroughputHistoryTest, ACounterThatWentDownCountsFromZeroAgain) {
  ThroughputHistory history;
  history.sample(kStart, {{"tt", stats({{"Purchase", {100, 100, 0, 0}}})}});
  // The dispatcher restarted (reload): its counters start again.
  history.sample(kStart + 1'000, {{"tt", stats({{"Purchase", {7, 6, 0, 0}}})}});
  auto s = history.series("tt", kStart, kStart + 1'000);
  EXPECT_EQ(s.byEventName.at("Purchase")[0].mapped, 107u);
  EXPECT_EQ(s.byEventName.at("Purchase")[0].delivered, 106u);
}

TEST(HttpGetTest, ParsesUrls) {
  auto url = parseHttpUrl("http://127.0.0.1:8080/api/summary?x=1");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->path, "/api/summary?x=1");
  auto v6 = parseHttpUrl("http://[::1]:9000");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
  EXPECT_EQ(v6->path, "/");
  EXPECT_EQ(parseHttpUrl("http://localhost")->port, 80);
  EXPECT_FALSE(parseHttpUrl("https://example.com/"));
  EXPECT_FALSE(parseHttpUrl("http://:80/"));
  EXPECT_FALSE(parseHttpUrl("http://host:99999/"));
  EXPECT_FALSE(parseHttpUrl("ftp://host/"));
}

TEST(HttpGetTest, ParsesResponses) {
  auto plain = parseHttpResponse(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(plain->body, "{\"a\":1}");
  auto chunked = parseHttpResponse(
      "HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: "
      "chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n");
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 401);
  EXPECT_EQ(chunked->body, "{\"a\":1}");
  auto untilClose = parseHttpResponse("HTTP/1.0 503 Busy\r\n\r\nlater");
  ASSERT_TRUE(untilClose);
  EXPECT_EQ(untilClose->body, "later");
  EXPECT_FALSE(parseHttpResponse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"));
  EXPECT_FALSE(parseHttpResponse("garbage"));
  EXPECT_FALSE(parseHttpResponse("HTTP/1.1 2x0 OK\r\n\r\n"));
}

TEST(HttpGetTest, UnreachableServerIsAnError) {
  // Port 1 on loopback: nothing listens there in a test environment.
  auto reply = httpGet("http://127.0.0.1:1/api/summary", "secret-token-here", 2'000);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(reply.error().message.find("secret-token-here"), std::string::npos);
}

constexpr const char* kSummary = R"({
  "now_ms": 1717243500000, "listen": "127.0.0.1:8080", "received_since_ms": 1717243200000,
  "destinations": [
    {"name": "tiktok", "status": "degraded", "status_reasons": ["circuit breaker open"],
     "delivered": 1200, "dead": 3, "expired": 0, "dead_letters": 3,
     "backlog": {"events": 450, "oldest_received_at_ms": 1717243380000, "oldest_age_ms": 120000},
     "breaker": "open", "concurrency": 2, "last_delivered_at_ms": 1717243440000,
     "errors": {"40002": 3, "http_500": 17}},
    {"name": "paused-one", "status": "paused", "pause_reason": "40105 invalid access token",
     "delivered": 0, "dead": 0, "expired": 0, "dead_letters": 0,
     "backlog": {"events": 0, "oldest_received_at_ms": null, "oldest_age_ms": 0},
     "breaker": "paused", "concurrency": 4, "last_delivered_at_ms": null, "errors": {}},
    {"name": "off", "status": "disabled"}
  ],
  "sources": [{"name": "web", "received": 1650}]
})";

TEST(StatusReportTest, FormatsDestinationsSourcesAndAlerts) {
  auto text = formatStatus(
      kSummary,
      R"({"active":[{"kind":"volume_drop","summary":"Purchase at 20% of its baseline"}],"recent":[]})");
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_NE(text->find("sluice on 127.0.0.1:8080 at 2024-06-01T12:05:00.000Z"), std::string::npos)
      << *text;
  EXPECT_NE(text->find("DESTINATION"), std::string::npos);
  EXPECT_NE(text->find("tiktok"), std::string::npos);
  EXPECT_NE(text->find("degraded"), std::string::npos);
  EXPECT_NE(text->find("1200"), std::string::npos);
  EXPECT_NE(text->find("2m00s"), std::string::npos);      // backlog age
  EXPECT_NE(text->find("1m00s ago"), std::string::npos);  // last delivery
  EXPECT_NE(text->find("40002:3 http_500:17"), std::string::npos);
  EXPECT_NE(text->find("paused-one paused: 40105 invalid access token"), std::string::npos);
  EXPECT_NE(text->find("tiktok degraded: circuit breaker open"), std::string::npos);
  EXPECT_NE(text->find("off"), std::string::npos);
  EXPECT_NE(text->find("1650"), std::string::npos);
  EXPECT_NE(text->find("volume_drop: Purchase at 20% of its baseline"), std::string::npos);
  auto quiet = formatStatus(kSummary, R"({"active":[],"recent":[]})");
  ASSERT_TRUE(quiet);
  EXPECT_NE(quiet->find("no active alerts"), std::string::npos);
  EXPECT_FALSE(formatStatus("[1,2]"));
  EXPECT_FALSE(formatStatus("{}"));
}

TEST(StatusReportTest, HealthAndAges) {
  EXPECT_FALSE(*allHealthy(kSummary));
  EXPECT_TRUE(*allHealthy(R"({"destinations":[{"status":"healthy"},{"status":"disabled"}]})"));
  EXPECT_FALSE(allHealthy("nope"));
  EXPECT_EQ(formatAge(850), "850ms");
  EXPECT_EQ(formatAge(12'000), "12s");
  EXPECT_EQ(formatAge(185'000), "3m05s");
  EXPECT_EQ(formatAge(7'800'000), "2h10m");
  EXPECT_EQ(formatAge(4 * 86'400'000LL + 3 * 3'600'000), "4d3h");
}

TEST(EmbeddedFilesTest, EveryWebFileIsCompiledIn) {
  for (const char* name :
       {"index.html", "login.html", "dashboard.css", "dashboard.js", "login.js"}) {
    const EmbeddedFile* file = findEmbeddedFile(name);
    ASSERT_NE(file, nullptr) << name;
    EXPECT_GT(file->size, 100u) << name;
  }
  EXPECT_NE(findEmbeddedFile("index.html")->text().find("<script src=\"/dashboard.js\""),
            std::string_view::npos);
  // No inline script (the Content-Security-Policy forbids it) and nothing loaded from elsewhere.
  for (const EmbeddedFile& file : embeddedFiles()) {
    EXPECT_EQ(file.text().find("<script>"), std::string_view::npos) << file.name;
    EXPECT_EQ(file.text().find("src=\"http"), std::string_view::npos) << file.name;
    EXPECT_EQ(file.text().find("href=\"http"), std::string_view::npos) << file.name;
  }
  EXPECT_EQ(findEmbeddedFile("missing.html"), nullptr);
  EXPECT_EQ(contentTypeFor("a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(contentTypeFor("a.html"), "text/html; charset=utf-8");
}

}  // namespace
}  // namespace sluice::ops::dashboard
