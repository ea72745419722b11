// The real `sluice serve` binary, the fake TikTok (MockServer) refusing the token with code 40105,
// and a local webhook receiver (a real http::Server in this process): the "paused" alert reaches
// both webhooks (generic JSON and Slack) once, and resolves once after the token is fixed and
// SIGHUP reloads the configuration; across restarts of the server it is neither forgotten nor
// started again. Every wait is bounded.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/time.h"
#include "http/server.h"
#include "integration/harness.h"
#include "integration/mock_tiktok_harness.h"
#include "mocktiktok/mock_server.h"

namespace sluice::testing {
namespace {

using mocktiktok::MockServer;

// Records the bodies POSTed to /json and /slack.
class WebhookReceiver {
 public:
  WebhookReceiver() {
    http::Router router;
    for (const std::string path : {"/json", "/slack"}) {
      router.add(path, [this, path](http::Request&& request, http::Responder respond) {
        {
          std::lock_guard lock(mutex_);
          bodies_[path].push_back(request.body);
        }
        respond(http::Response{200, "application/json", {}, "{}"});
      });
    }
    http::ServerOptions options;
    options.threads = 1;
    auto server = http::Server::start(options, std::move(router));
    EXPECT_TRUE(server.has_value());
    if (server) server_ = std::move(*server);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  std::vector<std::string> bodies(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = bodies_.find(path);
    return it == bodies_.end() ? std::vector<std::string>{} : it->second;
  }
  // Generic JSON messages of `kind` with `status` ("firing" / "resolved").
  size_t count(const std::string& kind, const std::string& status) const {
    size_t n = 0;
    for (const auto& body : bodies("/json")) {
      const auto json = boost::json::parse(body).as_object();
      n += json.at("status").as_string() == status &&
           json.at("alert").at("kind").as_string() == kind;
    }
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> bodies_;
  std::unique_ptr<http::Server> server_;
};

std::string orderEvent(int i, EpochMs timeMs) {
  return "{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"order-" +
         std::to_string(i) + "\",\"userId\":\"u" + std::to_string(i) + "\",\"timestamp\":\"" +
         formatIsoTime(timeMs) +
         "\",\"context\":{\"traits\":{\"email\":\"buyer@example.com\"}},"
         "\"properties\":{\"order_id\":\"o" +
         std::to_string(i) +
         "\",\"total\":19.99,\"currency\":\"USD\",\"products\":[{\"product_id\":\"p1\","
         "\"price\":19.99,\"quantity\":1}]}}";
}

// A destination at the fake TikTok with `token`, fast probes, and both webhooks of `receiver`.
std::string destinationAndAlertsYaml(const std::string& trackUrl, const WebhookReceiver& receiver,
                                     const std::string& token) {
  return "destinations:\n"
         "  - name: tiktok\n"
         "    type: tiktok-conversions\n"
         "    settings:\n"
         "      access_token: " +
         token +
         "\n"
         "      pixel_code: CALERT00000000000000\n"
         "      api_url: " +
         trackUrl +
         "\n"
         "    batch:\n"
         "      linger: 50ms\n"
         "    flow:\n"
         "      backoff_base: 50ms\n"
         "      backoff_cap: 500ms\n"
         "      paused_probe_interval: 1s\n"
         "      request_timeout: 2s\n"
         "alerts:\n"
         "  sample_interval: 100ms\n"
         "  resolve_after: 2s\n"
         "  webhook_timeout: 2s\n"
         "  webhooks:\n"
         "    - url: " +
         receiver.url("/json") +
         "\n"
         "      headers:\n"
         "        X-Hook-Token: hook-secret\n"
         "    - url: " +
         receiver.url("/slack") +
         "\n"
         "      format: slack\n";
}

// The fake TikTok refusing every token but "good-token" with 40105.
std::unique_ptr<MockServer> startRefusingMock() {
  return startMock("- mode: code:40105\n  except_token: good-token\n");
}

// 100 orders in one batch.
bool postOrders(const SluiceServer& server) {
  std::string batch = "{\"batch\":[";
  for (int i = 0; i < 100; ++i) {
    if (i > 0) batch += ',';
    batch += orderEvent(i, SystemClock::instance().nowMs());
  }
  batch += "]}";
  auto reply = server.post("/v1/batch", batch);
  return reply && reply->status == 200;
}

// Replaces `from` (once) in the server's configuration file.
void replaceText(const SluiceServer& server, const std::string& from, const std::string& to) {
  std::string yaml;
  {
    std::ifstream in(server.configPath());
    std::stringstream text;
    text << in.rdbuf();
    yaml = text.str();
  }
  yaml.replace(yaml.find(from), from.size(), to);
  std::ofstream(server.configPath()) << yaml;
}

// The server delivering 100 orders with a refused token: the paused alert has fired once.
class AlertsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = startRefusingMock();
    ASSERT_TRUE(mock_);
    ServeSpec spec;
    spec.extraYaml = destinationAndAlertsYaml(mock_->trackUrl(), receiver_, "bad-token");
    server_ = std::make_unique<SluiceServer>(dir_.path(), spec);
    ASSERT_TRUE(server_->start()) << server_->stderrText();
    ASSERT_TRUE(postOrders(*server_));
    ASSERT_TRUE(waitFor([&] { return receiver_.count("paused", "firing") >= 1; }, 20'000))
        << server_->stderrText();
  }
  // Once the token is fixed: one "resolved" message, the events delivered, and (3 s later) still
  // one "firing" and one "resolved" in all.
  void expectResolvedAndDelivered() {
    ASSERT_TRUE(waitFor([&] { return receiver_.count("paused", "resolved") >= 1; }, 20'000))
        << server_->stderrText();
    ASSERT_TRUE(waitFor([&] { return mock_->mock().stats().eventsAccepted >= 100; }, 10'000));
    std::this_thread::sleep_for(std::chrono::seconds(3));
    EXPECT_EQ(receiver_.count("paused", "firing"), 1u);
    EXPECT_EQ(receiver_.count("paused", "resolved"), 1u);
  }
  std::unique_ptr<MockServer> mock_;
  WebhookReceiver receiver_;
  TempDir dir_;
  std::unique_ptr<SluiceServer> server_;
};

TEST_F(AlertsIntegrationTest, PausedAlertStartsOnceAndResolvesOnceAfterTheTokenIsFixed) {
  SluiceServer& server = *server_;
  WebhookReceiver& receiver = receiver_;
  ASSERT_TRUE(waitFor([&] { return !receiver.bodies("/slack").empty(); }, 5'000));
  const std::string slack(
      boost::json::parse(receiver.bodies("/slack")[0]).at("text").as_string().c_str());
  EXPECT_NE(slack.find("FIRING"), std::string::npos) << slack;
  EXPECT_NE(slack.find("tiktok"), std::string::npos) << slack;
  // Paused for a while longer (probes keep failing): still one message.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(receiver.count("paused", "firing"), 1u);
  EXPECT_EQ(receiver.count("paused", "resolved"), 0u);
  for (const auto& body : receiver.bodies("/json")) {
    const auto alert = boost::json::parse(body).at("alert").as_object();
    if (alert.at("kind").as_string() != "paused") continue;
    EXPECT_EQ(alert.at("destination").as_string(), "tiktok");
    EXPECT_EQ(alert.at("severity").as_string(), "critical");
    EXPECT_NE(std::string(alert.at("message").as_string().c_str()).find("40105"), std::string::npos)
        << body;
  }

  // Fix the token and reload.
  replaceText(server, "bad-token", "good-token");
  server.signal(SIGHUP);
  expectResolvedAndDelivered();
  size_t slackResolved = 0;
  for (const auto& body : receiver.bodies("/slack")) {
    slackResolved +=
        body.find("RESOLVED") != std::string::npos && body.find("paused") != std::string::npos;
  }
  EXPECT_EQ(slackResolved, 1u);

  EXPECT_EQ(server.stop(), 0);
  const std::string log = server.stderrText();
  EXPECT_NE(log.find("alert started: paused tiktok"), std::string::npos) << log;
  EXPECT_NE(log.find("alert resolved: paused tiktok"), std::string::npos) << log;
  // No secret in the logs: tokens, webhook header values.
  EXPECT_EQ(log.find("bad-token"), std::string::npos);
  EXPECT_EQ(log.find("good-token"), std::string::npos);
  EXPECT_EQ(log.find("hook-secret"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(server.dataDir() + "/ops-history.db"));
}

TEST_F(AlertsIntegrationTest, AnAlertFiringAcrossARestartResolvesOnceAfterIt) {
  SluiceServer& server = *server_;
  WebhookReceiver& receiver = receiver_;
  // Stopped while the alert fires; started again still paused (the token is still refused).
  ASSERT_EQ(server.stop(), 0);
  ASSERT_TRUE(server.start()) << server.stderrText();
  ASSERT_TRUE(waitFor(
      [&] { return server.stderrText().find("alert still active") != std::string::npos; }, 5'000))
      << server.stderrText();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(receiver.count("paused", "firing"), 1u);  // not started a second time
  // Stopped again, the token fixed, started: the alert of the first run resolves, once.
  ASSERT_EQ(server.stop(), 0);
  replaceText(server, "bad-token", "good-token");
  ASSERT_TRUE(server.start()) << server.stderrText();
  expectResolvedAndDelivered();
  uint64_t firingId = 0, resolvedId = 0;
  for (const auto& body : receiver.bodies("/json")) {
    const auto json = boost::json::parse(body).as_object();
    if (json.at("alert").at("kind").as_string() != "paused") continue;
    (json.at("status").as_string() == "firing" ? firingId : resolvedId) =
        json.at("alert").at("id").to_number<uint64_t>();
  }
  EXPECT_EQ(firingId, resolvedId);
  EXPECT_EQ(server.stop(), 0);
}

// A free-space floor above what the disk has: the log takes no writes, ingestion answers 503,
// and the storage alert fires once. Restarted with a floor the disk meets, it resolves once.
TEST(StorageAlertIntegrationTest, FiresWhileTheLogTakesNoWritesAndResolvesOnceItDoes) {
  WebhookReceiver receiver;
  TempDir dir;
  ServeSpec spec;
  spec.minFreeSpace = "1000TiB";
  spec.extraYaml =
      "alerts:\n"
      "  sample_interval: 100ms\n"
      "  resolve_after: 1s\n"
      "  webhook_timeout: 2s\n"
      "  webhooks:\n"
      "    - url: " +
      receiver.url("/json") + "\n";
  SluiceServer server(dir.path(), spec);
  ASSERT_TRUE(server.start(15'000, /*untilReady=*/false)) << server.stderrText();
  ASSERT_TRUE(waitFor([&] { return receiver.count("storage", "firing") >= 1; }, 10'000))
      << server.stderrText();
  auto refused = server.post("/v1/track", orderEvent(1, SystemClock::instance().nowMs()));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  const auto alert = boost::json::parse(receiver.bodies("/json").at(0)).at("alert").as_object();
  EXPECT_EQ(alert.at("severity").as_string(), "critical");
  EXPECT_EQ(alert.at("destination").as_string(), "");
  const std::string message(alert.at("message").as_string().c_str());
  EXPECT_NE(message.find("below the floor"), std::string::npos) << message;
  // Still refused a while later: one message.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(receiver.count("storage", "firing"), 1u);

  ASSERT_EQ(server.stop(), 0);
  replaceText(server, "min_free_space: 1000TiB", "min_free_space: 1MiB");
  ASSERT_TRUE(server.start()) << server.stderrText();
  ASSERT_TRUE(waitFor([&] { return receiver.count("storage", "resolved") >= 1; }, 10'000))
      << server.stderrText();
  auto accepted = server.post("/v1/track", orderEvent(2, SystemClock::instance().nowMs()));
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 200);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(receiver.count("storage", "firing"), 1u);
  EXPECT_EQ(receiver.count("storage", "resolved"), 1u);
  EXPECT_EQ(server.stop(), 0);
  const std::string log = server.stderrText();
  EXPECT_NE(log.find("alert started: storage [critical]"), std::string::npos) << log;
  EXPECT_NE(log.find("alert still active from before the restart: storage"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace sluice::testing
