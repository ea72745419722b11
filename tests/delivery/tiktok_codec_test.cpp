// The TikTok codec as the dispatcher uses it: one codec maps many events in a row.
#include "delivery/tiktok_codec.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "config/config.h"

namespace sluice::delivery {
namespace {

constexpr const char* kConfig = R"(
sources:
  - name: web
    write_key: k
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
