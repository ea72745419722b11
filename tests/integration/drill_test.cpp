// Delivery drills (issue 4): the real `sluice serve` binary against the fake TikTok (MockServer, in
// this process) playing a scenario, with compressed timings (short backoff caps, probe intervals).
// Each drill is bounded in time; every wait polls with a deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/time.h"
#include "integration/harness.h"
#include "integration/mock_tiktok_harness.h"
#include "mocktiktok/mock_server.h"

namespace sluice::testing {
namespace {

using mocktiktok::MockServer;

// A destination sending to `url` with drill timings; `extra` lines go under the destination.
std::string destinationYaml(const std::string& name, const std::string& url,
                            const std::string& token = "good-token", const std::string& extra = "",
                            int maxEvents = 1000, const std::string& linger = "100ms") {
  return "  - name: " + name +
         "\n"
         "    type: tiktok-conversions\n"
         "    settings:\n"
         "      access_token: " +
         token +
         "\n"
         "      pixel_code: CDRILL0000000000000\n"
         "      api_url: " +
         url +
         "\n"
         "    presets: all\n"
         "    batch:\n"
         "      max_events: " +
         std::to_string(maxEvents) +
         "\n"
         "      linger: " +
         linger +
         "\n"
         "    flow:\n"
         "      max_requests_per_second: 500\n"
         "      backoff_base: 50ms\n"
         "      backoff_cap: 500ms\n"
         "      breaker_failure_threshold: 3\n"
         "      breaker_probe_interval: 500ms\n"
         "      paused_probe_interval: 1s\n"
         "      request_timeout: 2s\n" +
         extra;
}

// An "Order Completed" event (preset Place an Order); when `poison`, with a pre-hashed phone in
// upper-case hex: passed through as is (as Segment does), refused by TikTok's lower-case check.
std::string orderEvent(int i, EpochMs timeMs, bool poison = false) {
  const std::string email = "buyer" + std::to_string(i) + "@example.com";
  const std::string phone =
      poison ? std::string(64, 'A') : "+1 415 555 " + std::to_string(1000 + i % 9000);
  return "{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"order-" +
         std::to_string(i) + "\",\"userId\":\"u" + std::to_string(i) + "\",\"timestamp\":\"" +
         formatIsoTime(timeMs) + "\",\"context\":{\"traits\":{\"email\":\"" + email +
         "\",\"phone\":\"" + phone +
         "\"},\"page\":{\"url\":\"https://shop.example.com/checkout\"}},"
         "\"properties\":{\"order_id\":\"o" +
         std::to_string(i) +
         "\",\"total\":19.99,\"currency\":\"USD\",\"products\":[{\"product_id\":\"p1\","
         "\"price\":19.99,\"quantity\":1}]}}";
}

// Posts events [from, to) in /v1/batch requests of 250.
void postOrders(const SluiceServer& server, int from, int to, EpochMs timeMs,
                int poisonIndex = -1) {
  for (int start = from; start < to; start += 250) {
    std::string body = "{\"batch\":[";
    for (int i = start; i < std::min(to, start + 250); ++i) {
      if (i != start) body += ',';
      body += orderEvent(i, timeMs, i == poisonIndex);
    }
    body += "]}";
    auto reply = server.post("/v1/batch", body);
    ASSERT_TRUE(reply.has_value());
    ASSERT_EQ(reply->status, 200) << reply->body;
  }
}

// The distinct event_ids the mock accepted.
std::set<std::string> acceptedIds(MockServer& mock) {
  std::set<std::string> ids;
  for (const auto& e : mock.mock().events()) ids.insert(jsonField(e.json, "event_id"));
  return ids;
}

uint64_t accepted(MockServer& mock) { return mock.mock().stats().eventsAccepted; }

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class DrillTest : public ::testing::Test {
 protected:
  EpochMs now() const { return SystemClock::instance().nowMs(); }
  TempDir dir_;
};

// Drill 5: one poison event inside a full batch.
TEST_F(DrillTest, PoisonEventIsDeadLetteredOthersDelivered) {
  auto mock = startMock();
  ASSERT_TRUE(mock);
  ServeSpec spec;
  spec.extraYaml = "destinations:\n" + destinationYaml("tiktok", mock->trackUrl());
  SluiceServer server(dir_.path(), spec);
  ASSERT_TRUE(server.start()) << server.stderrText();
  postOrders(server, 0, 1000, now(), 437);
  ASSERT_TRUE(waitFor([&] { return acceptedIds(*mock).size() >= 999; }, 30'000))
      << accepted(*mock) << "\n"
      << server.stderrText();
  auto ids = acceptedIds(*mock);
  EXPECT_EQ(ids.size(), 999u);
  EXPECT_EQ(ids.count("order-437"), 0u);
  CommandResult dead;
  ASSERT_TRUE(waitFor(
      [&] {
        dead = runSluice({"export", "--config", server.configPath(), "--destination", "tiktok",
                          "--what", "dead", "--format", "jsonl"});
        return dead.out.find("order-437") != std::string::npos;
      },
      10'000))
      << dead.err;
  EXPECT_NE(dead.out.find("\"code\":400"), std::string::npos) << dead.out;
  EXPECT_EQ(std::count(dead.out.begin(), dead.out.end(), '\n'), 1);
  auto list =
      runSluice({"dlq", "list", "--config", server.configPath(), "--destination", "tiktok"});
  EXPECT_EQ(list.exitCode, 0) << list.err;
  EXPECT_NE(list.out.find("rejected"), std::string::npos) << list.out;
  EXPECT_EQ(server.stop(), 0);
}

// Drill 2: a token error pauses the destination; only probes go out; SIGHUP with the right token
// resumes and every event arrives.
TEST_F(DrillTest, TokenErrorPausesUntilReloadWithTheRightToken) {
  auto mock = startMock("- mode: code:40105\n  except_token: good-token\n");
  ASSERT_TRUE(mock);
  ServeSpec spec;
  spec.extraYaml = "destinations:\n" + destinationYaml("tiktok", mock->trackUrl(), "bad-token");
  SluiceServer server(dir_.path(), spec);
  ASSERT_TRUE(server.start()) << server.stderrText();
  postOrders(server, 0, 500, now());
  ASSERT_TRUE(waitFor([&] { return mock->mock().stats().requests >= 1; }, 10'000));
  std::this_thread::sleep_for(std::chrono::seconds(4));
  const auto paused = mock->mock().stats();
  EXPECT_EQ(paused.eventsAccepted, 0u);
  // What was in flight when the first reply came, then one probe per second.
  EXPECT_LE(paused.requests, 10u);
  EXPECT_NE(server.stderrText().find("paused"), std::string::npos);
  EXPECT_EQ(server.stderrText().find("bad-token"), std::string::npos);  // no secret in logs

  std::string yaml;
  {
    std::ifstream in(server.configPath());
    std::stringstream text;
    text << in.rdbuf();
    yaml = text.str();
  }
  yaml.replace(yaml.find("bad-token"), 9, "good-token");
  std::ofstream(server.configPath()) << yaml;
  server.signal(SIGHUP);
  ASSERT_TRUE(waitFor([&] { return acceptedIds(*mock).size() >= 500; }, 20'000))
      << accepted(*mock) << "\n"
      << server.stderrText();
  EXPECT_NE(server.stderrText().find("resumed"), std::string::npos);
  EXPECT_EQ(server.stop(), 0);
}

// Drill 1: a run of HTTP 500s under steady load: no event lost, the traffic during the outage
// stays small (breaker + budget), the backlog drains after recovery.
TEST_F(DrillTest, Http500OutageLosesNothingAndSendsLittle) {
  // The outage lasts until the test ends it, however long start-up and posting take.
  auto mock = startMock("- mode: http500\n");
  ASSERT_TRUE(mock);
  ServeSpec spec;
  spec.extraYaml = "destinations:\n" + destinationYaml("tiktok", mock->trackUrl());
  SluiceServer server(dir_.path(), spec);
  ASSERT_TRUE(server.start()) << server.stderrText();
  const auto outageStart = std::chrono::steady_clock::now();
  // Steady inbound load during the outage: 250 events every 250 ms for 4 s (longer on a busy
  // machine, hence the bound below per second of outage).
  for (int i = 0; i < 16; ++i) {
    postOrders(server, i * 250, (i + 1) * 250, now());
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const auto during = mock->mock().stats();
  const double outageSeconds = secondsSince(outageStart);
  EXPECT_EQ(during.eventsAccepted, 0u);
  // 16 inbound batches would be 16+ requests plus retries without flow control. With threshold 3
  // and a 500 ms probe interval: 3 failures + concurrency in flight + about 2 probes per second
  // (25 for the nominal 4 s).
  EXPECT_LE(during.requests, 13 + 3 * outageSeconds) << mock->mock().statsJson();
  mock->mock().setScenario({});  // recovered
  ASSERT_TRUE(waitFor([&] { return acceptedIds(*mock).size() >= 4'000; }, 25'000))
      << accepted(*mock) << "\n"
      << mock->mock().statsJson();
  EXPECT_EQ(acceptedIds(*mock).size(), 4'000u);
  EXPECT_EQ(server.stop(), 0);
}

// Drill 3: 40100 under the limit: backoff, then everything delivered.
TEST_F(DrillTest, ThrottlingBacksOffThenDelivers) {
  // Throttled until the test ends it, however long start-up and posting take.
  auto mock = startMock("- mode: code:40100\n");
  ASSERT_TRUE(mock);
  ServeSpec spec;
  spec.extraYaml = "destinations:\n" + destinationYaml("tiktok", mock->trackUrl(), "good-token");
  SluiceServer server(dir_.path(), spec);
  ASSERT_TRUE(server.start()) << server.stderrText();
  const auto throttleStart = std::chrono::steady_clock::now();
  postOrders(server, 0, 2'000, now());
  std::this_thread::sleep_for(std::chrono::milliseconds(2'500));
  const auto throttled = mock->mock().stats();
  const double throttleSeconds = secondsSince(throttleStart);
  EXPECT_EQ(throttled.eventsAccepted, 0u);
  // Two bodies, each retried with full-jitter backoff (50-500 ms, about 4 a second each): far
  // fewer than a tight loop would send (40 for the 2.5 s of a quick run).
  EXPECT_LE(throttled.requests, 10 + 12 * throttleSeconds) << mock->mock().statsJson();
  EXPECT_GE(throttled.byCode.count(40100) ? throttled.byCode.at(40100) : 0u, 2u);
  mock->mock().setScenario({});  // the limit is lifted
  ASSERT_TRUE(waitFor([&] { return acceptedIds(*mock).size() >= 2'000; }, 20'000))
      << mock->mock().statsJson();
  EXPECT_EQ(server.stop(), 0);
}

// Drill 7: two destinations, one failing: the healthy one keeps its throughput.
TEST_F(DrillTest, FailingDestinationDoesNotSlowTheHealthyOne) {
  auto healthy = startMock();
  auto failing = startMock("- mode: timeout\n");
  ASSERT_TRUE(healthy && failing);
  ServeSpec spec;
  spec.extraYaml = "destinations:\n" + destinationYaml("good", healthy->trackUrl()) +
                   destinationYaml("bad", failing->trackUrl());
  SluiceServer server(dir_.path(), spec);
  ASSERT_TRUE(server.start()) << server.stderrText();
  const auto start = std::chrono::steady_clock::now();
  postOrders(server, 0, 10'000, now());
  ASSERT_TRUE(waitFor([&] { return acceptedIds(*healthy).size() >= 10'000; }, 20'000))
      << accepted(*healthy);
  const double seconds = secondsSince(start);
  EXPECT_LT(seconds, 10.0);
  EXPECT_EQ(failing->mock().stats().eventsAccepted, 0u);
  EXPECT_LE(failing->mock().stats().requests, 30u);
  server.kill9();  // the failing destination holds requests; no need to wait for them
}

// Drill 6: events older than max_event_age are exported, not sent.
TEST_F(DrillTest, ExpiredEventsAreExportedNotSent) {
  auto mock = startMock();
  ASSERT_TRUE(mock);
  ServeSpec spec;
  spec.extraYaml = "destinations:\n" + destinationYaml("tiktok", mock->trackUrl(), "good-token",
                                                       "    max_event_age: 1d\n");
  SluiceServer server(dir_.path(), spec);
  ASSERT_TRUE(server.start()) << server.stderrText();
  postOrders(server, 0, 10, now() - 3LL * 86'400'000);  // three days old
  postOrders(server, 10, 20, now());
  ASSERT_TRUE(waitFor([&] { return acceptedIds(*mock).size() >= 10; }, 15'000));
  CommandResult csv;
  ASSERT_TRUE(waitFor(
      [&] {
        csv = runSluice({"export", "--config", server.configPath(), "--destination", "tiktok",
                         "--what", "expired", "--format", "csv"});
        return std::count(csv.out.begin(), csv.out.end(), '\n') >= 11;
      },
      10'000))
      << csv.out << csv.err;
  EXPECT_EQ(csv.exitCode, 0);
  EXPECT_EQ(csv.out.rfind("event_type,event_time,event_id,email,phone,value,currency,order_id,"
                          "content_ids\n",
                          0),
            0u);
  EXPECT_NE(csv.out.find(",order-3,"), std::string::npos) << csv.out;
  EXPECT_EQ(csv.out.find("@example.com"), std::string::npos);  // PII only hashed
  auto ids = acceptedIds(*mock);
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_EQ(ids.count("order-3"), 0u);
  EXPECT_EQ(ids.count("order-13"), 1u);
  EXPECT_EQ(server.stop(), 0);
}

// Drill 4: kill -9 in the middle of delivery, several times: every acknowledged event arrives.
TEST_F(DrillTest, KillNineDuringDeliveryLosesNothing) {
  auto mock = startMock("- mode: slow:100ms\n");
  ASSERT_TRUE(mock);
  ServeSpec spec;
  spec.extraYaml =
      "destinations:\n" + destinationYaml("tiktok", mock->trackUrl(), "good-token", "", 50, "20ms");
  SluiceServer server(dir_.path(), spec);
  ASSERT_TRUE(server.start()) << server.stderrText();
  postOrders(server, 0, 3'000, now());
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 150 * round));
    server.kill9();
    ASSERT_TRUE(server.start()) << server.stderrText();
    postOrders(server, 3'000 + round * 250, 3'250 + round * 250, now());
  }
  ASSERT_TRUE(waitFor([&] { return acceptedIds(*mock).size() >= 4'000; }, 40'000))
      << acceptedIds(*mock).size();
  EXPECT_EQ(acceptedIds(*mock).size(), 4'000u);
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace sluice::testing
