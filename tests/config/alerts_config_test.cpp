// The `alerts:` section: defaults, every key, line-numbered errors, secrets kept out of messages
// and of the masked summary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "config/config.h"

namespace sluice::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Result<Config> parse(std::string_view text, std::map<std::string, std::string> env = {}) {
  ParseOptions options;
  options.env = [env](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return parseConfig(text, "sluice.yaml", options);
}

std::string errorOf(std::string_view text, std::map<std::string, std::string> env = {}) {
  const auto result = parse(text, std::move(env));
  EXPECT_FALSE(result.has_value()) << "expected an error for:\n" << text;
  return result ? "" : result.error().message;
}

constexpr std::string_view kSources = "sources:\n  - name: web\n    write_key: wk\n";

TEST(AlertsConfigTest, Defaults) {
  const auto config = parse(kSources);
  ASSERT_TRUE(config) << config.error().message;
  const AlertsConfig& a = config->alerts;
  EXPECT_EQ(a.sampleIntervalMs, 5'000);
  EXPECT_EQ(a.resolveAfterMs, 120'000);
  EXPECT_TRUE(a.paused);
  EXPECT_EQ(a.backlogAgeMs, 15 * 60'000);
  EXPECT_DOUBLE_EQ(a.errorRate, 0.25);
  EXPECT_TRUE(a.volumeDrop.enabled);
  EXPECT_DOUBLE_EQ(a.volumeDrop.below, 0.5);
  EXPECT_EQ(a.volumeDrop.forMs, 15 * 60'000);
  EXPECT_EQ(a.volumeDrop.historyDays, 7);
  EXPECT_TRUE(a.webhooks.empty());
}

TEST(AlertsConfigTest, EveryKey) {
  const std::string text = std::string(kSources) + R"(alerts:
  sample_interval: 1s
  resolve_after: 30s
  paused: false
  backlog_age: 0
  error_rate:
    above: 0.5
    window: 2m
    min_requests: 5
  volume_drop:
    enabled: true
    below: 0.4
    for: 10m
    recover_above: 0.8
    recover_for: 3m
    rate_window: 10m
    moving_average: 3h
    min_events: 100
    history_days: 14
  webhook_attempts: 3
  webhook_timeout: 2s
  webhooks:
    - url: https://hooks.slack.com/services/${SLACK_PATH}
      format: slack
    - url: http://127.0.0.1:9000/alerts
      headers:
        Authorization: Bearer ${HOOK_TOKEN}
        X-Team: growth
)";
  const auto config = parse(text, {{"SLACK_PATH", "T1/B2/abc"}, {"HOOK_TOKEN", "tok"}});
  ASSERT_TRUE(config) << config.error().message;
  const AlertsConfig& a = config->alerts;
  EXPECT_EQ(a.sampleIntervalMs, 1'000);
  EXPECT_EQ(a.resolveAfterMs, 30'000);
  EXPECT_FALSE(a.paused);
  EXPECT_EQ(a.backlogAgeMs, 0);
  EXPECT_DOUBLE_EQ(a.errorRate, 0.5);
  EXPECT_EQ(a.errorRateWindowMs, 120'000);
  EXPECT_EQ(a.errorRateMinRequests, 5);
  EXPECT_DOUBLE_EQ(a.volumeDrop.below, 0.4);
  EXPECT_EQ(a.volumeDrop.forMs, 600'000);
  EXPECT_DOUBLE_EQ(a.volumeDrop.recoverAbove, 0.8);
  EXPECT_EQ(a.volumeDrop.recoverForMs, 180'000);
  EXPECT_EQ(a.volumeDrop.rateWindowMs, 600'000);
  EXPECT_EQ(a.volumeDrop.movingAverageMs, 3 * 3'600'000);
  EXPECT_EQ(a.volumeDrop.minEvents, 100);
  EXPECT_EQ(a.volumeDrop.historyDays, 14);
  EXPECT_EQ(a.webhookAttempts, 3);
  EXPECT_EQ(a.webhookTimeoutMs, 2'000);
  ASSERT_EQ(a.webhooks.size(), 2u);
  EXPECT_EQ(a.webhooks[0].url, "https://hooks.slack.com/services/T1/B2/abc");
  EXPECT_EQ(a.webhooks[0].format, "slack");
  EXPECT_EQ(a.webhooks[1].format, "json");
  ASSERT_EQ(a.webhooks[1].headers.size(), 2u);
  EXPECT_EQ(a.webhooks[1].headers[0],
            (std::pair<std::string, std::string>{"Authorization", "Bearer tok"}));
  EXPECT_EQ(a.webhooks[1].position.line, 28);

  // The summary masks the URLs and header values.
  const std::string summary = maskedSummary(*config);
  EXPECT_THAT(summary, Not(HasSubstr("T1/B2/abc")));
  EXPECT_THAT(summary, Not(HasSubstr("Bearer tok")));
  EXPECT_THAT(summary, Not(HasSubstr("growth")));
  EXPECT_THAT(summary, HasSubstr(R"("url": "***")"));
  EXPECT_THAT(summary, HasSubstr(R"("Authorization": "***")"));
  EXPECT_THAT(summary, HasSubstr(R"("below": 0.4)"));
}

TEST(AlertsConfigTest, ErrorsNameTheLineAndNeverTheSecrets) {
  const std::string text = std::string(kSources) + R"(alerts:
  sample_intervl: 5s
  backlog_age: 15
  error_rate:
    above: 2
  volume_drop:
    below: 0.6
    recover_above: 0.5
    history_days: 30
  webhooks:
    - url: ftp://secret-host/hook-key
      format: teams
    - format: json
    - url: https://example.com/x
      headers:
        Bad Name: v
        X-Token: "${HOOK_TOKEN}"
)";
  const std::string error = errorOf(text, {});
  EXPECT_THAT(error, HasSubstr("sluice.yaml:5:3: alerts: unknown key 'sample_intervl' (did you "
                               "mean 'sample_interval'?)"));
  EXPECT_THAT(error, HasSubstr("sluice.yaml:6:16: alerts.backlog_age: expected a duration"));
  EXPECT_THAT(error, HasSubstr("sluice.yaml:8:12: alerts.error_rate.above: must be from 0 to 1"));
  EXPECT_THAT(error, HasSubstr("sluice.yaml:11:20: alerts.volume_drop.recover_above: must not be "
                               "below volume_drop.below"));
  EXPECT_THAT(error, HasSubstr("sluice.yaml:12:19: alerts.volume_drop.history_days: must be from "
                               "1 to 14"));
  EXPECT_THAT(error, HasSubstr("sluice.yaml:14:12: alerts.webhooks[0].url: expected an http:// or "
                               "https:// URL"));
  EXPECT_THAT(error, HasSubstr("sluice.yaml:15:15: alerts.webhooks[0].format: expected 'json' or "
                               "'slack' (got 'teams')"));
  EXPECT_THAT(error, HasSubstr("sluice.yaml:16:7: alerts.webhooks[1].url: required"));
  EXPECT_THAT(error, HasSubstr("sluice.yaml:19:9: alerts.webhooks[2].headers: expected an HTTP "
                               "header name"));
  EXPECT_THAT(
      error,
      HasSubstr("sluice.yaml:20:18: alerts.webhooks[2].headers.X-Token: environment variable "
                "HOOK_TOKEN is not set"));
  EXPECT_THAT(error, Not(HasSubstr("secret-host")));
  EXPECT_THAT(error, Not(HasSubstr("hook-key")));
}

}  // namespace
}  // namespace sluice::config
