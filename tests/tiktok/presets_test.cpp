// The product's 7 documented presets: their mappings are exactly Segment's preset mappings, and
// the two whose triggers differ from Segment's current catalog behave as documented.
#include "tiktok/presets.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>
#include <string>

#include "core/time.h"
#include "tiktok/destination.h"
#include "tiktok/golden_support.h"

namespace sluice::tiktok {
namespace {

namespace json = boost::json;

TEST(Presets, SevenDocumentedPresets) {
  std::set<std::string> names;
  for (const auto& preset : documentedPresets()) names.emplace(preset.name);
  EXPECT_EQ(names,
            (std::set<std::string>{"Add to Cart", "Place an Order", "Search", "Initiate Checkout",
                                   "Add Payment Info", "Add to Wishlist", "View Content"}));
  EXPECT_EQ(findPreset("Place an Order")->trigger, R"(event = "Order Completed")");
  EXPECT_EQ(findPreset("View Content")->trigger, R"(type = "page")");
  EXPECT_EQ(findPreset("add to cart"), nullptr);
}

TEST(Presets, MappingsAreSegmentsPresetMappings) {
  for (const auto& preset : documentedPresets()) {
    SCOPED_TRACE(std::string(preset.name));
    const json::object& segment = testing::segmentPresets().at(preset.name).as_object();
    EXPECT_EQ(json::value(presetMapping(preset)), segment.at("mapping"));
    if (preset.name != "Place an Order" && preset.name != "View Content") {
      EXPECT_EQ(segment.at("subscribe").as_string(), preset.trigger);
    }
  }
}

// Runs `eventJson` through a destination with `presets` and returns (subscription name, item).
std::vector<std::pair<std::string, std::string>> run(std::vector<std::string> presets,
                                                     const std::string& eventJson) {
  config::DestinationConfig config;
  config.name = "t";
  config.settings.accessToken = "token";
  config.settings.pixelCode = "PIXEL";
  config.presets = std::move(presets);
  auto destination = Destination::create(config);
  EXPECT_TRUE(destination.has_value()) << destination.error().message;
  simdjson::dom::parser parser;
  simdjson::dom::element event = parser.parse(eventJson);
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t index : destination->match(event)) {
    auto result = destination->transform(event, index, 1'717'243'200'000);
    EXPECT_TRUE(result.has_value());
    out.emplace_back(destination->subscriptionName(index), result ? result->item : "");
  }
  return out;
}

// A golden case of a Segment preset whose trigger differs from ours gives the same item through
// our preset once the event is what our trigger expects.
void checkRetriggered(const std::string& caseName, const std::string& presetName,
                      const std::string& field, const std::string& value) {
  testing::GoldenCase golden = testing::loadGoldenCase(caseName);
  json::object event = golden.input.at("event").as_object();
  event[field] = value;
  auto out = run({presetName}, json::serialize(event));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].first, presetName);
  json::value theirs = golden.expected.at("request").at("json").at("data").at(0);
  EXPECT_EQ(json::parse(out[0].second), theirs) << out[0].second;
}

TEST(Presets, PlaceAnOrderOnOrderCompleted) {
  checkRetriggered("006_place_an_order_products", "Place an Order", "event", "Order Completed");
  checkRetriggered("009_place_an_order_no_products", "Place an Order", "event", "Order Completed");
  // Segment's current trigger ("Order Placed") is not ours.
  EXPECT_TRUE(run({"Place an Order"}, R"({"type":"track","event":"Order Placed"})").empty());
}

TEST(Presets, ViewContentOnPages) {
  checkRetriggered("014_view_content", "View Content", "type", "page");
  EXPECT_TRUE(run({"View Content"}, R"({"type":"track","event":"Product Viewed"})").empty());
}

TEST(Presets, AllEnablesTheSevenNoneDisables) {
  auto all = run({"all"}, R"({"type":"track","event":"Order Completed","messageId":"m"})");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first, "Place an Order");
  EXPECT_NE(all[0].second.find(R"("event":"PlaceAnOrder")"), std::string::npos);
  auto page = run({"all"}, R"({"type":"page","name":"Home","properties":{"product_id":"p"}})");
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].first, "View Content");
  EXPECT_TRUE(run({"none"}, R"({"type":"track","event":"Order Completed"})").empty());
  EXPECT_TRUE(run({"all"}, R"({"type":"track","event":"Signed Up"})").empty());
  EXPECT_TRUE(run({"Search"}, R"({"type":"track","event":"Product Added"})").empty());
  EXPECT_EQ(run({"Search", "Add to Cart"}, R"({"type":"track","event":"Product Added"})").size(),
            1u);
}

TEST(Presets, UnknownPresetIsAConfigurationError) {
  config::DestinationConfig config;
  config.settings.accessToken = "token";
  config.settings.pixelCode = "PIXEL";
  config.presets = {"Add to Cart", "Complete Payment"};
  config.position = {"sluice.yaml", 7, 5};
  auto destination = Destination::create(config);
  ASSERT_FALSE(destination.has_value());
  EXPECT_EQ(destination.error().message.rfind("sluice.yaml:7:5: presets[1]: unknown preset "
                                              "'Complete Payment'",
                                              0),
            0u)
      << destination.error().message;
}

}  // namespace
}  // namespace sluice::tiktok
