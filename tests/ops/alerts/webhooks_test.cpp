// Webhooks delivered through the real HTTP client to a real local http::Server.
#include "ops/alerts/webhooks.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>
#include <thread>

#include "http/server.h"
#include "reserved_port.h"

namespace sluice::ops::alerts {
namespace {

// A webhook receiver: records every request; answers `failFirst` requests with 503.
class Receiver {
 public:
  explicit Receiver(int failFirst = 0) : failFirst_(failFirst) {
    http::Router router;
    router.add("/hook", [this](http::Request&& request, http::Responder respond) {
      http::Response response;
      {
        std::lock_guard lock(mutex_);
        ++requests_;
        if (requests_ <= failFirst_) {
          response.status = 503;
        } else {
          bodies_.push_back(request.body);
          headers_.push_back(std::string(request.header("x-hook-token")));
        }
      }
      changed_.notify_all();
      response.body = "{}";
      respond(std::move(response));
    });
    http::ServerOptions options;
    options.threads = 1;
    auto server = http::Server::start(options, std::move(router));
    EXPECT_TRUE(server.has_value());
    if (server) server_ = std::move(*server);
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/hook";
  }
  bool waitFor(size_t bodies) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10),
                             [&] { return bodies_.size() >= bodies; });
  }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  std::vector<std::string> headers() const {
    std::lock_guard lock(mutex_);
    return headers_;
  }
  int requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  const int failFirst_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int requests_ = 0;
  std::vector<std::string> bodies_;
  std::vector<std::string> headers_;
  std::unique_ptr<http::Server> server_;
};

Alert sampleAlert(bool resolved) {
  Alert a;
  a.id = 7;
  a.spec = AlertSpec{"paused", "tiktok", "", Severity::kCritical, "delivery to tiktok is paused"};
  a.startedMs = 1'000'000;
  if (resolved) {
    a.resolvedMs = 1'090'000;
    a.resolvedMessage = "delivery to tiktok resumed";
  }
  return a;
}

WebhookOptions fastOptions() {
  WebhookOptions o;
  o.backoffBaseMs = 20;
  o.backoffCapMs = 100;
  o.timeoutMs = 3'000;
  return o;
}

TEST(WebhooksTest, JsonAndSlackBodies) {
  const auto json = boost::json::parse(webhookJsonBody(sampleAlert(false))).as_object();
  EXPECT_EQ(json.at("status").as_string(), "firing");
  EXPECT_EQ(json.at("alert").at("kind").as_string(), "paused");
  EXPECT_EQ(json.at("alert").at("destination").as_string(), "tiktok");
  EXPECT_EQ(json.at("alert").at("severity").as_string(), "critical");
  EXPECT_TRUE(json.at("alert").at("resolved_ms").is_null());
  const auto resolved = boost::json::parse(webhookJsonBody(sampleAlert(true))).as_object();
  EXPECT_EQ(resolved.at("status").as_string(), "resolved");
  EXPECT_EQ(resolved.at("alert").at("resolved_ms").as_int64(), 1'090'000);

  const auto slack = boost::json::parse(webhookSlackBody(sampleAlert(false))).as_object();
  const std::string text(slack.at("text").as_string());
  EXPECT_NE(text.find("FIRING"), std::string::npos);
  EXPECT_NE(text.find("delivery to tiktok is paused"), std::string::npos);
  EXPECT_EQ(slack.at("blocks").as_array()[0].at("type").as_string(), "section");
  const auto slackResolved = boost::json::parse(webhookSlackBody(sampleAlert(true))).as_object();
  EXPECT_NE(std::string(slackResolved.at("text").as_string()).find("RESOLVED"), std::string::npos);
  EXPECT_NE(std::string(slackResolved.at("text").as_string()).find("90 s"), std::string::npos);
}

TEST(WebhooksTest, AnAlertOfNoDestinationIsTitledByItsKindAlone) {
  Alert alert;
  alert.id = 3;
  alert.spec = AlertSpec{"storage", "", "", Severity::kCritical, "the event log takes no writes"};
  alert.startedMs = 1'000'000;
  const auto slack = boost::json::parse(webhookSlackBody(alert)).as_object();
  const std::string text(slack.at("text").as_string());
  EXPECT_NE(text.find("FIRING [critical] storage: the event log takes no writes"),
            std::string::npos)
      << text;
}

TEST(WebhooksTest, RedactedUrlKeepsSchemeAndHostOnly) {
  EXPECT_EQ(redactedUrl("https://hooks.slack.com/services/T000/B000/XXXX"),
            "https://hooks.slack.com");
  EXPECT_EQ(redactedUrl("http://user:secret@127.0.0.1:8080/x?token=y"), "http://127.0.0.1:8080");
}

TEST(WebhooksTest, DeliversInOrderToEveryTargetWithHeaders) {
  Receiver json, slack;
  auto client = delivery::makeBeastHttpClient();
  WebhookNotifier notifier(
      *client, fastOptions(),
      {WebhookTarget{json.url(), WebhookFormat::kJson, {{"X-Hook-Token", "s3cret"}}},
       WebhookTarget{slack.url(), WebhookFormat::kSlack, {}}});
  notifier.notify(sampleAlert(false));
  notifier.notify(sampleAlert(true));
  ASSERT_TRUE(json.waitFor(2));
  ASSERT_TRUE(slack.waitFor(2));
  ASSERT_TRUE(notifier.drain(5'000));
  const auto bodies = json.bodies();
  EXPECT_EQ(boost::json::parse(bodies[0]).at("status").as_string(), "firing");
  EXPECT_EQ(boost::json::parse(bodies[1]).at("status").as_string(), "resolved");
  EXPECT_EQ(json.headers()[0], "s3cret");
  EXPECT_TRUE(boost::json::parse(slack.bodies()[0]).as_object().contains("text"));
  EXPECT_EQ(notifier.stats().delivered, 4u);
  EXPECT_EQ(notifier.stats().failed, 0u);
}

// Collects what spdlog's default logger writes while it lives.
class CapturedLog {
 public:
  CapturedLog()
      : previous_(spdlog::default_logger()),
        sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() {
    sink_->flush();
    return text_.str();
  }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST(WebhooksTest, RetriesWithBackoffAndKeepsTheOrder) {
  Receiver receiver(/*failFirst=*/2);
  CapturedLog log;
  auto client = delivery::makeBeastHttpClient();
  // A secret in the URL (as Slack's hook paths and ?token= parameters are) never reaches the log.
  WebhookNotifier notifier(
      *client, fastOptions(),
      {WebhookTarget{receiver.url() + "?token=s3cret", WebhookFormat::kJson, {}}});
  notifier.notify(sampleAlert(false));
  notifier.notify(sampleAlert(true));
  ASSERT_TRUE(receiver.waitFor(2));
  ASSERT_TRUE(notifier.drain(5'000));
  const std::string logged = log.text();
  EXPECT_NE(logged.find("retrying"), std::string::npos) << logged;  // the failures were logged
  EXPECT_EQ(logged.find("s3cret"), std::string::npos) << logged;
  EXPECT_EQ(receiver.requests(), 4);
  const auto bodies = receiver.bodies();
  EXPECT_EQ(boost::json::parse(bodies[0]).at("status").as_string(), "firing");
  EXPECT_EQ(boost::json::parse(bodies[1]).at("status").as_string(), "resolved");
  EXPECT_EQ(notifier.stats().retries, 2u);
  EXPECT_EQ(notifier.stats().delivered, 2u);
}

TEST(WebhooksTest, GivesUpAfterTheAttemptsWithoutBlockingNotify) {
  // Every connection to this port is refused, and no other test can take it meanwhile.
  const sluice::testing::ReservedPort refusing(sluice::testing::ReservedPort::Mode::kRefuses);
  const std::string deadUrl = refusing.url("/hook");
  auto client = delivery::makeBeastHttpClient();
  WebhookOptions options = fastOptions();
  options.attempts = 3;
  WebhookNotifier notifier(*client, options, {WebhookTarget{deadUrl, WebhookFormat::kJson, {}}});
  const auto before = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) notifier.notify(sampleAlert(i % 2 == 1));
  // Sent in the caller's thread, 20 alerts of 3 attempts with 20 + 40 ms of backoff would take
  // 1.2 s or more.
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(1'000));
  ASSERT_TRUE(notifier.drain(20'000));
  EXPECT_EQ(notifier.stats().failed, 20u);
  EXPECT_EQ(notifier.stats().retries, 40u);
  EXPECT_EQ(notifier.stats().delivered, 0u);
}

}  // namespace
}  // namespace sluice::ops::alerts
