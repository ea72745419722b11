// The dashboard end to end: the real `sluice serve` (with an admin token) delivering a known
// workload, with one poison event, to the fake TikTok in this process; then the admin API, `sluice
// status`, and the page in headless Chromium (tests/browser/dashboard.test.mjs). Every wait is
// bounded.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/time.h"
#include "integration/harness.h"
#include "integration/mock_tiktok_harness.h"
#include "mocktiktok/mock_server.h"
#include "reserved_port.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using mocktiktok::MockServer;

constexpr const char* kAdminToken = "dash-admin-0123456789";
constexpr const char* kAccessToken = "tt-access-secret-42";

std::string browserDir() {
  const char* source = std::getenv("SLUICE_SOURCE_DIR");
  if (source != nullptr && *source != '\0') return std::string(source) + "/tests/browser";
  return SLUICE_BROWSER_DIR;
}

std::string screenshotDir() {
  const char* artifacts = std::getenv("SLUICE_ARTIFACTS_DIR");
  if (artifacts != nullptr && *artifacts != '\0') {
    return std::string(artifacts) + "/dashboard-screenshots";
  }
  return std::string(SLUICE_TEST_BINARY_DIR) + "/screenshots";
}

// A track event `event` (i-th of the workload) received now.
std::string trackEvent(const std::string& event, const std::string& messageId, int i) {
  const std::string email = "buyer" + std::to_string(i) + "@example.com";
  return "{\"type\":\"track\",\"event\":\"" + event + "\",\"messageId\":\"" + messageId +
         "\",\"userId\":\"u" + std::to_string(i) + "\",\"timestamp\":\"" +
         formatIsoTime(SystemClock::instance().nowMs()) +
         "\",\"context\":{\"traits\":{\"email\":\"" + email +
         "\"},\"page\":{\"url\":\"https://shop.example.com/p\"}},\"properties\":{\"order_id\":\"o" +
         std::to_string(i) +
         "\",\"query\":\"shoes\",\"product_id\":\"p1\",\"price\":19.99,\"total\":19.99,"
         "\"currency\":\"USD\",\"products\":[{\"product_id\":\"p1\",\"price\":19.99,"
         "\"quantity\":1}]}}";
}

std::string destinationYaml(const std::string& url) {
  return std::string("destinations:\n") +
         "  - name: tiktok\n"
         "    type: tiktok-conversions\n"
         "    settings:\n"
         "      access_token: " +
         kAccessToken +
         "\n"
         "      pixel_code: CDASH00000000000000\n"
         "      api_url: " +
         url +
         "\n"
         "    presets: all\n"
         "    batch:\n"
         "      linger: 100ms\n"
         "    flow:\n"
         "      backoff_base: 50ms\n"
         "      backoff_cap: 500ms\n"
         "      request_timeout: 2s\n";
}

// The workload: 30 orders (one poison), 12 products added, 5 searches.
constexpr int kOrders = 30, kAdds = 12, kSearches = 5;
constexpr const char* kPoisonId = "order-7";

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = startMock();
    ASSERT_NE(mock_, nullptr);
    ServeSpec spec;
    spec.extraServerYaml = std::string("  admin_token: ") + kAdminToken + "\n";
    spec.extraYaml = destinationYaml(mock_->trackUrl());
    server_ = std::make_unique<SluiceServer>(dir_.path(), spec);
    ASSERT_TRUE(server_->start()) << server_->stderrText();
    // The poison event first, alone, while the fake TikTok refuses everything (40002, an invalid
    // event): it becomes a dead letter. Then the rest, accepted.
    rejectEverything();
    auto poison = server_->post("/v1/track", trackEvent("Order Completed", kPoisonId, 7));
    ASSERT_TRUE(poison.has_value());
    ASSERT_EQ(poison->status, 200) << poison->body;
    ASSERT_TRUE(waitFor([&] { return destinationNumber(summary(), "dead") == 1; }, 20'000))
        << get("/api/summary").body << "\n"
        << server_->stderrText();
    mock_->mock().setScenario(mocktiktok::Scenario{});
    std::string batch = "{\"batch\":[";
    for (int i = 0; i < kOrders; ++i) {
      if (i == 7) continue;
      batch += trackEvent("Order Completed", "order-" + std::to_string(i), i) + ",";
    }
    for (int i = 0; i < kAdds; ++i) {
      batch += trackEvent("Product Added", "add-" + std::to_string(i), 100 + i) + ",";
    }
    for (int i = 0; i < kSearches; ++i) {
      batch += trackEvent("Products Searched", "search-" + std::to_string(i), 200 + i);
      batch += i + 1 < kSearches ? "," : "";
    }
    batch += "]}";
    auto reply = server_->post("/v1/batch", batch);
    ASSERT_TRUE(reply.has_value());
    ASSERT_EQ(reply->status, 200) << reply->body;
    // Everything has its fate: 46 delivered, the poison one dead.
    ASSERT_TRUE(waitFor(
        [&] {
          auto s = summary();
          return destinationNumber(s, "delivered") == 46 && destinationNumber(s, "dead") == 1;
        },
        30'000))
        << get("/api/summary").body << "\n"
        << server_->stderrText();
  }

  // From now on the fake TikTok answers every request with 40002 (the event is invalid).
  void rejectEverything() {
    auto scenario = mocktiktok::parseScenario("- mode: \"code:40002\"\n");
    ASSERT_TRUE(scenario) << scenario.error().toString();
    mock_->mock().setScenario(*scenario);
  }

  // A number of the first destination in the summary (-1 when absent).
  static int64_t destinationNumber(const json::object& summary, const char* field) {
    const auto& d = summary.at("destinations").at(0).as_object();
    return d.contains(field) ? d.at(field).to_number<int64_t>() : -1;
  }

  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->stop(), 0);
    }
    if (mock_) mock_->stop();
  }

  RawResponse get(const std::string& path, bool withToken = true) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (withToken) headers.emplace_back("Authorization", std::string("Bearer ") + kAdminToken);
    auto reply = server_->request("GET", path, headers);
    return reply ? *reply : RawResponse{};
  }

  json::object summary() {
    auto reply = get("/api/summary");
    boost::system::error_code ec;
    json::value value = json::parse(reply.body, ec);
    if (ec || !value.is_object())
      return json::object{{"destinations", json::array{json::object{}}}};
    return value.as_object();
  }

  TempDir dir_;
  std::unique_ptr<MockServer> mock_;
  std::unique_ptr<SluiceServer> server_;
};

int64_t number(const json::value& v) { return v.to_number<int64_t>(); }

TEST_F(DashboardTest, AdminApiShowsTheWorkloadAndNeedsTheToken) {
  // Without the token: 401 everywhere but the login page itself.
  for (const char* path : {"/api/summary", "/api/config", "/api/alerts",
                           "/api/destinations/tiktok/dlq", "/dashboard.js"}) {
    EXPECT_EQ(get(path, false).status, 401) << path;
  }
  auto page = get("/", false);
  const auto dashboardPage = get("/");
  EXPECT_EQ(page.status, 401);
  EXPECT_NE(page.body.find("id=\"login\""), std::string::npos);
  // The admin page runs only its own scripts, cannot be framed (its retry button could be
  // clickjacked), and is never cached.
  const RawResponse* replies[] = {&page, &dashboardPage};
  for (const RawResponse* reply : replies) {
    const std::string csp = reply->header("content-security-policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(reply->header("x-frame-options"), "DENY");
    EXPECT_EQ(reply->header("x-content-type-options"), "nosniff");
    EXPECT_EQ(reply->header("cache-control"), "no-store");
  }
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);  // no inline script
  auto dashboard = get("/");
  EXPECT_EQ(dashboard.status, 200);
  EXPECT_NE(dashboard.body.find("/dashboard.js"), std::string::npos);
  EXPECT_EQ(get("/dashboard.js").header("content-type").rfind("text/javascript", 0), 0u);

  // Summary: counts per destination and per event name, backlog, source received.
  json::object s = summary();
  // The server was configured with port 0: the summary shows the port it bound.
  EXPECT_EQ(s.at("listen").as_string(), "127.0.0.1:" + std::to_string(server_->port()));
  const json::object& d = s.at("destinations").at(0).as_object();
  EXPECT_EQ(d.at("name").as_string(), "tiktok");
  EXPECT_EQ(number(d.at("retried")), 0);  // nothing was sent twice
  EXPECT_EQ(d.at("status").as_string(), "healthy");
  EXPECT_EQ(number(d.at("mapped")), 47);
  EXPECT_EQ(number(d.at("expired")), 0);
  EXPECT_EQ(number(d.at("dead_letters")), 1);
  EXPECT_EQ(number(d.at("backlog").at("events")), 0);
  EXPECT_EQ(d.at("breaker").as_string(), "closed");
  EXPECT_GT(number(d.at("concurrency")), 0);
  EXPECT_GT(number(d.at("last_delivered_at_ms")), 0);
  const json::object& byEvent = d.at("by_event_name").as_object();
  EXPECT_EQ(number(byEvent.at("PlaceAnOrder").at("delivered")), kOrders - 1);
  EXPECT_EQ(number(byEvent.at("PlaceAnOrder").at("dead")), 1);
  EXPECT_EQ(number(byEvent.at("AddToCart").at("delivered")), kAdds);
  EXPECT_EQ(number(byEvent.at("Search").at("delivered")), kSearches);
  // The poison event was refused with a code: errors by code are not empty.
  EXPECT_FALSE(d.at("errors").as_object().empty()) << json::serialize(d);
  ASSERT_TRUE(waitFor(
      [&] {
        auto sources = summary().at("sources").as_array();
        return !sources.empty() && number(sources.at(0).at("received")) == 47;
      },
      10'000))
      << json::serialize(summary());

  // Series: per minute and event name, summing to the workload.
  auto series = get("/api/destinations/tiktok/series?since=-1h");
  ASSERT_EQ(series.status, 200) << series.body;
  json::value sv = json::parse(series.body);
  std::map<std::string, std::pair<int64_t, int64_t>> totals;
  const size_t minutes = sv.at("minutes").as_array().size();
  EXPECT_GE(minutes, 1u);
  for (const auto& entry : sv.at("series").as_array()) {
    auto& [mapped, delivered] = totals[std::string(entry.at("event").as_string())];
    EXPECT_EQ(entry.at("mapped").as_array().size(), minutes);
    for (const auto& v : entry.at("mapped").as_array()) mapped += number(v);
    for (const auto& v : entry.at("delivered").as_array()) delivered += number(v);
  }
  using Totals = std::pair<int64_t, int64_t>;
  EXPECT_EQ(totals["PlaceAnOrder"], (Totals{kOrders, kOrders - 1}));
  EXPECT_EQ(totals["AddToCart"], (Totals{kAdds, kAdds}));
  EXPECT_EQ(totals["Search"], (Totals{kSearches, kSearches}));
  EXPECT_EQ(get("/api/destinations/nope/series").status, 404);
  EXPECT_EQ(get("/api/destinations/tiktok/series?since=yesterday-ish").status, 400);

  // Dead letters: the poison event with TikTok's code and message, no raw event (PII).
  auto dlq = get("/api/destinations/tiktok/dlq");
  ASSERT_EQ(dlq.status, 200);
  json::value dv = json::parse(dlq.body);
  EXPECT_EQ(number(dv.at("total")), 1);
  ASSERT_EQ(dv.at("items").as_array().size(), 1u);
  const json::object& letter = dv.at("items").at(0).as_object();
  EXPECT_EQ(letter.at("message_id").as_string(), kPoisonId);
  EXPECT_EQ(letter.at("event").as_string(), "PlaceAnOrder");
  EXPECT_EQ(letter.at("reason").as_string(), "rejected");
  EXPECT_EQ(dlq.body.find("buyer"), std::string::npos);
  EXPECT_EQ(dlq.body.find("event_json"), std::string::npos);

  // Configuration: masked, never a secret; the alerts and incidents lists answer.
  auto config = get("/api/config");
  ASSERT_EQ(config.status, 200);
  EXPECT_NE(config.body.find("***"), std::string::npos);
  for (const auto& reply : {config.body, get("/api/summary").body, dlq.body}) {
    EXPECT_EQ(reply.find(kAdminToken), std::string::npos);
    EXPECT_EQ(reply.find(kAccessToken), std::string::npos);
    EXPECT_EQ(reply.find("test-write-key"), std::string::npos);
  }
  EXPECT_EQ(get("/api/alerts").status, 200);
  EXPECT_EQ(get("/api/incidents").status, 200);

  // Login sets an HttpOnly cookie only for the right token.
  auto login = server_->request("POST", "/api/login", {{"Content-Type", "application/json"}},
                                std::string("{\"token\":\"") + kAdminToken + "\"}");
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 200);
  EXPECT_NE(login->header("set-cookie").find("HttpOnly"), std::string::npos);
  auto wrong = server_->request("POST", "/api/login", {{"Content-Type", "application/json"}},
                                "{\"token\":\"nope\"}");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_TRUE(wrong->header("set-cookie").empty());
  auto withCookie = server_->request("GET", "/api/summary",
                                     {{"Cookie", std::string("sluice_admin=") + kAdminToken}});
  ASSERT_TRUE(withCookie);
  EXPECT_EQ(withCookie->status, 200);
}

TEST_F(DashboardTest, FailedLoginsAreThrottledPerAddress) {
  auto login = [&](const std::string& token) {
    auto reply = server_->request("POST", "/api/login", {{"Content-Type", "application/json"}},
                                  "{\"token\":\"" + token + "\"}");
    return reply ? *reply : RawResponse{};
  };
  // A right token gives its attempt back: logging in often never throttles.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(login(kAdminToken).status, 200);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login("guess-" + std::to_string(i)).status, 401) << i;
  auto throttled = login("guess-5");
  EXPECT_EQ(throttled.status, 429) << throttled.body;
  const std::string retryAfter(throttled.header("retry-after"));
  ASSERT_FALSE(retryAfter.empty());
  EXPECT_GE(std::stoi(retryAfter), 1);
  EXPECT_LE(std::stoi(retryAfter), 12);
  // While throttled even the right token is not checked (no oracle for a guesser).
  auto right = login(kAdminToken);
  EXPECT_EQ(right.status, 429);
  EXPECT_TRUE(right.header("set-cookie").empty());
  // The API shares the throttle: while throttled, the token in a header is not checked either.
  EXPECT_EQ(get("/api/summary").status, 429);
}

TEST_F(DashboardTest, RetryFromTheApiSendsTheDeadLetterAgain) {
  auto dlq = json::parse(get("/api/destinations/tiktok/dlq").body);
  const int64_t oldId = number(dlq.at("items").at(0).at("id"));
  rejectEverything();  // still refused when retried
  const auto before = mock_->mock().stats();
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", std::string("Bearer ") + kAdminToken}};
  // A form post (no JSON) is refused: cross-site forms cannot trigger a retry.
  auto form = server_->request("POST", "/api/destinations/tiktok/dlq/retry",
                               {headers[0], {"Content-Type", "application/x-www-form-urlencoded"}},
                               "all=true");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415);
  auto missing =
      server_->request("POST", "/api/destinations/tiktok/dlq/retry",
                       {headers[0], {"Content-Type", "application/json"}}, "{\"ids\":[999999]}");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404) << missing->body;

  auto retry = server_->request("POST", "/api/destinations/tiktok/dlq/retry",
                                {headers[0], {"Content-Type", "application/json"}},
                                "{\"ids\":[" + std::to_string(oldId) + "]}");
  ASSERT_TRUE(retry);
  ASSERT_EQ(retry->status, 202) << retry->body;
  EXPECT_EQ(number(json::parse(retry->body).at("queued")), 1);
  // The mock still rejects it: a new dead letter replaces the old one.
  int64_t newId = 0;
  ASSERT_TRUE(waitFor(
      [&] {
        auto items = json::parse(get("/api/destinations/tiktok/dlq").body).at("items").as_array();
        if (items.size() != 1) return false;
        newId = number(items.at(0).at("id"));
        return newId != oldId;
      },
      20'000))
      << get("/api/retries").body;
  EXPECT_GT(newId, oldId);
  const auto after = mock_->mock().stats();
  EXPECT_GT(after.requests, before.requests);
  auto refused = [](const mocktiktok::MockStats& s) {
    return s.byCode.count(40002) ? s.byCode.at(40002) : 0u;
  };
  EXPECT_GT(refused(after), refused(before));
  EXPECT_EQ(after.eventsAccepted, before.eventsAccepted);
  ASSERT_TRUE(waitFor(
      [&] {
        auto jobs = json::parse(get("/api/retries").body).at("jobs").as_array();
        return !jobs.empty() && jobs.at(0).at("state").as_string() == "done";
      },
      10'000));
  auto jobs = json::parse(get("/api/retries").body).at("jobs").as_array();
  EXPECT_EQ(number(jobs.at(0).at("dead")), 1);
  EXPECT_EQ(number(jobs.at(0).at("delivered")), 0);
}

TEST_F(DashboardTest, StatusCommandPrintsTheSummary) {
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port());
  // --url without the token: refused.
  auto refused = runSluice({"status", "--url", url});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_NE(refused.err.find("admin token"), std::string::npos) << refused.err;
  // --url with a token file.
  const std::string tokenFile = dir_.path() + "/admin-token";
  std::ofstream(tokenFile) << kAdminToken << "\n";
  auto status = runSluice({"status", "--url", url, "--token-file", tokenFile});
  ASSERT_EQ(status.exitCode, 0) << status.err;
  EXPECT_NE(status.out.find("tiktok"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("healthy"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("46"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("web"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("no active alerts"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("sluice on 127.0.0.1:" + std::to_string(server_->port())),
            std::string::npos)
      << status.out;
  // The server's own configuration says port 0: --config cannot know the port, and says so.
  auto portZero = runSluice({"status", "--config", server_->configPath()});
  EXPECT_EQ(portZero.exitCode, 2);
  EXPECT_NE(portZero.err.find("--url"), std::string::npos) << portZero.err;
  EXPECT_EQ(status.out.find(kAdminToken), std::string::npos);
  // --config: the server's listen address and token from the configuration file.
  std::string yaml;
  {
    std::ifstream in(server_->configPath());
    std::stringstream text;
    text << in.rdbuf();
    yaml = text.str();
  }
  yaml.replace(yaml.find("127.0.0.1:0"), 11, "127.0.0.1:" + std::to_string(server_->port()));
  const std::string configCopy = dir_.path() + "/status.yaml";
  std::ofstream(configCopy) << yaml;
  auto fromConfig = runSluice({"status", "--config", configCopy, "--check"});
  EXPECT_EQ(fromConfig.exitCode, 0) << fromConfig.err << fromConfig.out;
  EXPECT_NE(fromConfig.out.find("tiktok"), std::string::npos);
  auto asJson = runSluice({"status", "--config", configCopy, "--json"});
  ASSERT_EQ(asJson.exitCode, 0) << asJson.err;
  EXPECT_EQ(number(json::parse(asJson.out).at("destinations").at(0).at("delivered")), 46);
  // Nothing listening: exit 1 with a reason (on a port that refuses, rather than the stopped
  // server's, which another test's server may take meanwhile).
  server_->stop();
  const ReservedPort refusing(ReservedPort::Mode::kRefuses);
  std::string downYaml = yaml;
  downYaml.replace(downYaml.find("127.0.0.1:" + std::to_string(server_->port())),
                   10 + std::to_string(server_->port()).size(),
                   "127.0.0.1:" + std::to_string(refusing.port()));
  std::ofstream(configCopy) << downYaml;
  auto down = runSluice({"status", "--config", configCopy});
  EXPECT_EQ(down.exitCode, 1);
  EXPECT_NE(down.err.find("cannot connect"), std::string::npos) << down.err;
  server_.reset();
}

TEST_F(DashboardTest, BrowserShowsTheWorkloadAndRetries) {
  if (!std::filesystem::exists(browserDir() + "/node_modules/playwright-core")) {
    GTEST_SKIP() << "run `npm ci` in tests/browser (scripts/test does) to run this test";
  }
  const char* chromium = std::getenv("SLUICE_CHROMIUM");
  if (!std::filesystem::exists(chromium ? chromium : "/usr/bin/chromium")) {
    GTEST_SKIP() << "chromium is not installed (scripts/install-deps installs it)";
  }
  if (runProgram({"node", "--version"}, 10'000).exitCode != 0) GTEST_SKIP() << "node not found";
  const std::string expected =
      std::string("{\"destination\":\"tiktok\",\"source\":\"web\",\"received\":47,") +
      "\"delivered\":46,\"dead\":1,\"poisonMessageId\":\"" + kPoisonId + "\",\"events\":{" +
      "\"PlaceAnOrder\":{\"received\":30,\"delivered\":29}," +
      "\"AddToCart\":{\"received\":12,\"delivered\":12}," +
      "\"Search\":{\"received\":5,\"delivered\":5}}}";
  const std::string mockUrl = "http://" + mock_->address();
  rejectEverything();  // the retried dead letter is refused again
  auto result = runProgram({"node", browserDir() + "/dashboard.test.mjs",
                            "http://127.0.0.1:" + std::to_string(server_->port()), kAdminToken,
                            mockUrl, screenshotDir(), expected},
                           180'000);
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err << server_->stderrText();
  EXPECT_NE(result.out.find("every check passed"), std::string::npos) << result.out;
  EXPECT_TRUE(std::filesystem::exists(screenshotDir() + "/dashboard.png"));
  EXPECT_TRUE(std::filesystem::exists(screenshotDir() + "/after-retry.png"));
}

}  // namespace
}  // namespace sluice::testing
