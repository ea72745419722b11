// The TikTok codec as the dispatcher uses it: one codec maps many events in a row.
#include "delivery/tiktok_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config/config.h"

namespace sluice::delivery {
namespace {

constexpr const char* kConfig = R"(
sources:
  - name: web
    write_key: k
  - name: app
    write_key: k2
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings:
      access_token: t
      pixel_code: CCODEC0000000000000
    presets: all
)";

store::StoredEvent orderEvent(store::Seq seq) {
  store::StoredEvent e;
  e.seq = seq;
  e.source = "web";
  e.messageId = "m" + std::to_string(seq);
  e.json = R"({"type":"track","event":"Order Completed","messageId":"m)" + std::to_string(seq) +
           R"(","userId":"u1","timestamp":"2026-11-30T12:00:00Z","properties":{"order_id":"o1"}})";
  return e;
}

TEST(TikTokCodec, EachEventMapsOnItsOwn) {
  auto config = config::parseConfig(kConfig, "test.yaml");
  ASSERT_TRUE(config) << config.error().toString();
  auto codec = makeTikTokCodec(config->destinations.at(0));
  ASSERT_TRUE(codec) << codec.error().toString();
  for (store::Seq seq = 1; seq <= 5; ++seq) {
    MapOutcome outcome = (*codec)->map(orderEvent(seq), 0);
    EXPECT_TRUE(outcome.error.empty()) << outcome.error;
    ASSERT_EQ(outcome.items.size(), 1u) << "event " << seq;
    EXPECT_EQ(outcome.items[0].eventName, "PlaceAnOrder");
    EXPECT_NE(outcome.items[0].json.find("\"event_id\":\"m" + std::to_string(seq) + "\""),
              std::string::npos)
        << outcome.items[0].json;
  }
  // An event no subscription takes gives nothing, also after events that matched.
  store::StoredEvent other = orderEvent(6);
  other.json = R"({"type":"track","event":"Newsletter Opened","userId":"u1"})";
  EXPECT_TRUE((*codec)->map(other, 0).items.empty());
}

// What the dispatcher sends for a batch, and how it reads the reply: the batch key carries the
// test event code (a staging destination's events must never count as conversions), the token
// goes in its header, and rate limits are told apart from other retries.
TEST(TikTokCodec, RequestsCarryTheKeyAndRepliesAreClassified) {
  std::string yaml = kConfig;
  const std::string pixel = "      pixel_code: CCODEC0000000000000\n";
  yaml.replace(yaml.find(pixel), pixel.size(),
               pixel + "      test_event_code: TEST1\n      partner_name: Sluice\n");
  auto config = config::parseConfig(yaml, "test.yaml");
  ASSERT_TRUE(config) << config.error().toString();
  auto codec = makeTikTokCodec(config->destinations.at(0));
  ASSERT_TRUE(codec) << codec.error().toString();
  MapOutcome outcome = (*codec)->map(orderEvent(1), 0);
  ASSERT_EQ(outcome.items.size(), 1u) << outcome.error;
  const HttpPost post =
      (*codec)->request(outcome.items[0].batchKey, {std::string_view(outcome.items[0].json)});
  EXPECT_EQ(post.url, config->destinations.at(0).settings.apiUrl);
  EXPECT_NE(std::find(post.headers.begin(), post.headers.end(),
                      std::pair<std::string, std::string>{"Access-Token", "t"}),
            post.headers.end());
  for (const char* field : {R"("test_event_code":"TEST1")", R"("event_source":"web")",
                            R"("event_source_id":"CCODEC0000000000000")",
                            R"("partner_name":"Sluice")", R"("event_id":"m1")"}) {
    EXPECT_NE(post.body.find(field), std::string::npos) << field << " not in " << post.body;
  }

  const ReplyClass ok = (*codec)->classify(200, R"({"code":0,"message":"OK"})");
  EXPECT_EQ(ok.verdict, Verdict::kDelivered);
  EXPECT_FALSE(ok.throttled);
  for (const auto& [status, body] : std::vector<std::pair<int, std::string>>{
           {429, ""}, {200, R"({"code":40100,"message":"Too many requests"})"}}) {
    const ReplyClass limited = (*codec)->classify(status, body);
    EXPECT_EQ(limited.verdict, Verdict::kRetry) << status << " " << body;
    EXPECT_TRUE(limited.throttled) << status << " " << body;
  }
  const ReplyClass failed = (*codec)->classify(500, "<html>");
  EXPECT_EQ(failed.verdict, Verdict::kRetry);
  EXPECT_FALSE(failed.throttled);
  EXPECT_EQ((*codec)->classify(200, R"({"code":40105,"message":"bad token"})").verdict,
            Verdict::kPause);
}

// A destination with `sources:` takes only those sources' events, forks too.
TEST(TikTokCodec, OnlyTheListedSourcesFeedTheDestination) {
  auto config = config::parseConfig(std::string(kConfig) +
                                        "    sources: [app]\n"
                                        "  - name: all\n"
                                        "    type: tiktok-conversions\n"
                                        "    settings:\n"
                                        "      access_token: t\n"
                                        "      pixel_code: CCODEC0000000000001\n"
                                        "    presets: all\n",
                                    "test.yaml");
  ASSERT_TRUE(config) << config.error().toString();
  auto listed = makeTikTokCodec(config->destinations.at(0));
  auto every = makeTikTokCodec(config->destinations.at(1));
  ASSERT_TRUE(listed && every);
  EXPECT_TRUE((*listed)->feeds("app"));
  EXPECT_FALSE((*listed)->feeds("web"));
  EXPECT_FALSE((*listed)->forkMapper()->feeds("web"));
  EXPECT_TRUE((*listed)->forkMapper()->feeds("app"));
  EXPECT_TRUE((*every)->feeds("web"));
  EXPECT_TRUE((*every)->feeds("app"));
}

// The dispatcher maps slices of a chunk on several threads with forks of one codec: a fork maps
// exactly as the codec, also while the codec maps on another thread.
TEST(TikTokCodec, ForksMapLikeTheCodecOnOtherThreads) {
  auto config = config::parseConfig(kConfig, "test.yaml");
  ASSERT_TRUE(config) << config.error().toString();
  auto codec = makeTikTokCodec(config->destinations.at(0));
  ASSERT_TRUE(codec) << codec.error().toString();
  std::vector<store::StoredEvent> events;
  for (store::Seq seq = 1; seq <= 400; ++seq) {
    store::StoredEvent e = orderEvent(seq);
    e.json = R"({"type":"track","event":"Order Completed","messageId":"m)" + std::to_string(seq) +
             R"(","userId":"u)" + std::to_string(seq % 7) +
             R"(","context":{"traits":{"email":" U)" + std::to_string(seq) +
             R"(@Example.com"}},"properties":{"order_id":"o)" + std::to_string(seq) +
             R"(","revenue":)" + std::to_string(seq) + R"(.5,"products":[{"product_id":"p1"}]}})";
    events.push_back(std::move(e));
  }
  std::vector<std::string> serial;
  for (const auto& e : events) {
    MapOutcome outcome = (*codec)->map(e, 0);
    ASSERT_EQ(outcome.items.size(), 1u) << outcome.error;
    serial.push_back(outcome.items[0].json);
  }
  std::vector<std::unique_ptr<DestinationCodec>> forks;
  for (int i = 0; i < 2; ++i) {
    forks.push_back((*codec)->forkMapper());
    ASSERT_NE(forks.back(), nullptr);
  }
  std::vector<std::string> parallel(events.size());
  auto mapSlice = [&](DestinationCodec& c, size_t part) {
    for (size_t i = part; i < events.size(); i += 3) {
      MapOutcome outcome = c.map(events[i], 0);
      if (outcome.items.size() == 1) parallel[i] = outcome.items[0].json;
    }
  };
  std::thread a([&] { mapSlice(*forks[0], 1); });
  std::thread b([&] { mapSlice(*forks[1], 2); });
  mapSlice(**codec, 0);
  a.join();
  b.join();
  EXPECT_EQ(parallel, serial);
}

}  // namespace
}  // namespace sluice::delivery
