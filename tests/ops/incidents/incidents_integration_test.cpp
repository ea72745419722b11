// The incident log and the canary on the real binary against the in-process fake TikTok: a few
// seconds of HTTP 500s make one closed incident that `sluice incidents` reports (JSON and
// Markdown) with the right figures; canaries are recorded ok, and failed under code 40105.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <functional>
#include <thread>

#include "core/clock.h"
#include "core/time.h"
#include "integration/harness.h"
#include "integration/mock_tiktok_harness.h"
#include "mocktiktok/mock_server.h"

namespace sluice::testing {
namespace {

using mocktiktok::MockServer;

// A destination with drill timings (short backoff and probe intervals).
std::string destinationYaml(const std::string& name, const std::string& url,
                            const std::string& token, const std::string& extra = "") {
  return "  - name: " + name +
         "\n    type: tiktok-conversions\n    settings:\n      access_token: " + token +
         "\n      pixel_code: CINCIDENT000000000\n      api_url: " + url +
         "\n      test_event_code: TESTCANARY\n    presets: all\n    batch:\n      linger: 100ms\n"
         "    flow:\n      backoff_base: 50ms\n      backoff_cap: 500ms\n"
         "      breaker_failure_threshold: 3\n      breaker_probe_interval: 500ms\n"
         "      paused_probe_interval: 1s\n      request_timeout: 2s\n" +
         extra;
}

const char* kFastIncidents =
    "incidents:\n  sample_interval: 200ms\n  open_after: 2\n  close_after: 2\n"
    "  drained_age: 0\n";

std::string orderBatch(int count, EpochMs timeMs) {
  std::string body = "{\"batch\":[";
  for (int i = 0; i < count; ++i) {
    if (i > 0) body += ',';
    body += "{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"order-" +
            std::to_string(i) + "\",\"userId\":\"u" + std::to_string(i) + "\",\"timestamp\":\"" +
            formatIsoTime(timeMs) + "\",\"properties\":{\"order_id\":\"o" + std::to_string(i) +
            "\",\"total\":10,\"currency\":\"USD\"}}";
  }
  return body + "]}";
}

boost::json::object incidentsJson(const SluiceServer& server,
                                  const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"incidents", "--config", server.configPath(), "--format",
                                   "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const CommandResult result = runSluice(args);
  EXPECT_EQ(result.exitCode, 0) << result.err;
  boost::system::error_code ec;
  auto value = boost::json::parse(result.out, ec);
  if (ec || !value.is_object()) {
    ADD_FAILURE() << "not JSON: " << result.out << result.err;
    return {};
  }
  return value.as_object();
}

class IncidentsIntegrationTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(IncidentsIntegrationTest, OutageOf500sIsOneClosedIncidentInTheReport) {
  // The outage lasts until the test ends it (below).
  auto mock = startMock("- mode: http500\n");
  ASSERT_TRUE(mock);
  ServeSpec spec;
  spec.extraYaml = std::string(kFastIncidents) + "destinations:\n" +
                   destinationYaml("tiktok", mock->trackUrl(), "good-token");
  SluiceServer server(dir_.path(), spec);
  ASSERT_TRUE(server.start()) << server.stderrText();
  const auto posted = std::chrono::steady_clock::now();
  auto reply = server.post("/v1/batch", orderBatch(200, SystemClock::instance().nowMs()));
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->status, 200) << reply->body;

  // While the outage lasts the incident is open.
  ASSERT_TRUE(waitFor(
      [&] {
        auto root = incidentsJson(server);
        return root.contains("incidents") && !root.at("incidents").as_array().empty();
      },
      10'000))
      << server.stderrText();
  // Recovery comes 3 s after the post, and 2.5 s after the incident was seen open at the latest.
  std::this_thread::sleep_until(std::max(posted + std::chrono::seconds(3),
                                         std::chrono::steady_clock::now() +
                                             std::chrono::milliseconds(2'500)));
  EXPECT_EQ(mock->mock().stats().eventsAccepted, 0u);
  mock->mock().setScenario({});

  // After recovery every event arrives and the incident closes.
  boost::json::object root;
  ASSERT_TRUE(waitFor(
      [&] {
        root = incidentsJson(server);
        const auto& list = root.at("incidents").as_array();
        return !list.empty() && list.back().at("state").as_string() == "closed";
      },
      30'000))
      << boost::json::serialize(root) << "\n"
      << mock->mock().statsJson() << "\n"
      << server.stderrText();
  const auto stats = mock->mock().stats();
  EXPECT_EQ(stats.eventsAccepted, 200u);
  const auto& list = root.at("incidents").as_array();
  ASSERT_EQ(list.size(), 1u) << boost::json::serialize(root);
  const auto& incident = list[0].as_object();
  EXPECT_EQ(incident.at("destination").as_string(), "tiktok");
  const auto& codes = incident.at("codes").as_object();
  ASSERT_TRUE(codes.contains("http_500")) << boost::json::serialize(incident);
  // Every 500 the fake returned was counted (the monitor's baseline precedes the traffic).
  EXPECT_EQ(codes.at("http_500").as_int64(),
            static_cast<int64_t>(stats.byHttpStatus.count(500) ? stats.byHttpStatus.at(500) : 0));
  EXPECT_EQ(codes.size(), 1u) << boost::json::serialize(codes);
  EXPECT_EQ(incident.at("events_delayed").as_int64(), 200);
  EXPECT_EQ(incident.at("events_dead").as_int64(), 0);
  EXPECT_EQ(incident.at("events_expired").as_int64(), 0);
  EXPECT_EQ(incident.at("max_backlog_events").as_int64(), 200);
  EXPECT_GE(incident.at("max_backlog_age_ms").as_int64(), 2'000);
  const int64_t start = incident.at("start_ms").as_int64();
  const int64_t recovered = incident.at("recovered_ms").as_int64();
  const int64_t end = incident.at("end_ms").as_int64();
  EXPECT_LE(start, recovered);
  EXPECT_LE(recovered, end);
  EXPECT_GE(recovered - start, 2'000);  // 2.5 s or more after the incident was open
  EXPECT_EQ(incident.at("time_to_drain_ms").as_int64(), end - recovered);

  // The Markdown report of the same incident.
  const CommandResult md = runSluice({"incidents", "--config", server.configPath()});
  EXPECT_EQ(md.exitCode, 0) << md.err;
  EXPECT_NE(md.out.find("# Delivery incidents"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("1 incident, 0 open"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| http_500 | "), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("HTTP 500 server error (retried)"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("- Events delayed: 200"), std::string::npos) << md.out;
  EXPECT_EQ(md.out.find("good-token"), std::string::npos);

  // Filters: another destination has none; --since after the end leaves it out.
  EXPECT_TRUE(incidentsJson(server, {"--destination", "other"}).at("incidents").as_array().empty());
  EXPECT_TRUE(incidentsJson(server, {"--since", formatIsoTime(end + 1)})
                  .at("incidents")
                  .as_array()
                  .empty());
  EXPECT_EQ(server.stop(), 0);

  // The log survives the restart; a healthy restart adds no incident.
  ASSERT_TRUE(server.start()) << server.stderrText();
  std::this_thread::sleep_for(std::chrono::milliseconds(1'000));
  EXPECT_EQ(incidentsJson(server).at("incidents").as_array().size(), 1u);
  EXPECT_EQ(server.stop(), 0);
}

TEST_F(IncidentsIntegrationTest, CanaryIsRecordedOkAndFailedUnder40105) {
  auto mock = startMock("- mode: code:40105\n  except_token: good-token\n");
  ASSERT_TRUE(mock);
  ServeSpec spec;
  const std::string canary = "    canary:\n      enabled: true\n      interval: 1h\n";
  spec.extraYaml = std::string(kFastIncidents) + "destinations:\n" +
                   destinationYaml("good", mock->trackUrl(), "good-token", canary) +
                   destinationYaml("bad", mock->trackUrl(), "bad-token", canary);
  SluiceServer server(dir_.path(), spec);
  ASSERT_TRUE(server.start()) << server.stderrText();
  boost::json::object root;
  ASSERT_TRUE(waitFor(
      [&] {
        root = incidentsJson(server);
        return root.contains("canary") && root.at("canary").as_array().size() >= 2;
      },
      15'000))
      << boost::json::serialize(root) << server.stderrText();
  const auto& results = root.at("canary").as_array();
  ASSERT_EQ(results.size(), 2u);  // one each: the interval is an hour
  for (const auto& r : results) {
    const auto& o = r.as_object();
    if (o.at("destination").as_string() == "good") {
      EXPECT_TRUE(o.at("ok").as_bool()) << boost::json::serialize(o);
      EXPECT_EQ(o.at("code").as_string(), "0");
      EXPECT_EQ(o.at("verdict").as_string(), "delivered");
    } else {
      EXPECT_EQ(o.at("destination").as_string(), "bad");
      EXPECT_FALSE(o.at("ok").as_bool()) << boost::json::serialize(o);
      EXPECT_EQ(o.at("code").as_string(), "40105");
      EXPECT_EQ(o.at("verdict").as_string(), "pause");
    }
    EXPECT_GE(o.at("latency_ms").as_int64(), 0);
  }
  // TikTok received the good canary as a test event; nothing went through the event log.
  const auto events = mock->mock().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].testEventCode, "TESTCANARY");
  EXPECT_NE(events[0].json.find("sluice-canary-good-"), std::string::npos) << events[0].json;
  EXPECT_TRUE(server.exportLog().empty());
  const CommandResult md = runSluice({"incidents", "--config", server.configPath()});
  EXPECT_NE(md.out.find("## Canary events"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("failed (pause) | 40105"), std::string::npos) << md.out;
  EXPECT_EQ(md.out.find("bad-token"), std::string::npos);
  EXPECT_EQ(server.stderrText().find("bad-token"), std::string::npos);
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace sluice::testing
