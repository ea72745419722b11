#include "tiktok/destination.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <boost/json.hpp>

#include "tiktok/pii.h"

namespace sluice::tiktok {
namespace {

namespace json = boost::json;
constexpr EpochMs kNow = 1'717'243'200'000;  // 2024-06-01T12:00:00Z

config::DestinationConfig baseConfig() {
  config::DestinationConfig config;
  config.name = "tt";
  config.type = "tiktok-conversions";
  config.settings.accessToken = "secret-token";
  config.settings.pixelCode = "PIXEL1";
  config.presets = {"none"};
  config.position = {"sluice.yaml", 10, 5};
  return config;
}

config::SubscriptionConfig subscription(std::string trigger, std::string mapping,
                                        bool mergeDefaults = false) {
  config::SubscriptionConfig sub;
  sub.name = "sub";
  sub.trigger = std::move(trigger);
  sub.mappingJson = std::move(mapping);
  sub.mergeDefaults = mergeDefaults;
  sub.triggerPosition = {"sluice.yaml", 20, 14};
  sub.mappingPosition = {"sluice.yaml", 21, 14};
  return sub;
}

struct Run {
  std::vector<size_t> matched;
  std::vector<Result<TikTokEvent>> results;
};

Run run(const Destination& destination, const std::string& eventJson, EpochMs now = kNow) {
  simdjson::dom::parser parser;
  simdjson::dom::element event = parser.parse(eventJson);
  Run out;
  out.matched = destination.match(event);
  for (size_t index : out.matched) out.results.push_back(destination.transform(event, index, now));
  return out;
}

TEST(Destination, TriggerErrorsNameThePosition) {
  auto config = baseConfig();
  config.subscriptions.push_back(subscription(R"(event = "A" and ))", R"({"event":"X"})"));
  auto destination = Destination::create(config);
  ASSERT_FALSE(destination.has_value());
  EXPECT_EQ(
      destination.error().message.rfind("sluice.yaml:20:14: subscriptions[0].trigger: column ", 0),
      0u)
      << destination.error().message;
}

TEST(Destination, MappingErrors) {
  auto config = baseConfig();
  config.subscriptions.push_back(subscription("", R"(["not", "an object"])"));
  auto notObject = Destination::create(config);
  ASSERT_FALSE(notObject.has_value());
  EXPECT_EQ(notObject.error().message,
            "sluice.yaml:21:14: subscriptions[0].mapping: must be a JSON object");
  config.subscriptions[0].mappingJson = R"({"event":"X","emial":{"@path":"$.email"}})";
  auto unknown = Destination::create(config);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("'emial' is not a field of reportWebEvent"),
            std::string::npos);
  config.subscriptions[0].mappingJson = R"({"event":{"@path":42}})";
  auto badDirective = Destination::create(config);
  ASSERT_FALSE(badDirective.has_value());
  EXPECT_EQ(badDirective.error().message.rfind("sluice.yaml:21:14: subscriptions[0].mapping: ", 0),
            0u);
}

TEST(Destination, SettingsAreChecked) {
  auto config = baseConfig();
  config.settings.accessToken.clear();
  EXPECT_EQ(Destination::create(config).error().message,
            "sluice.yaml:10:5: settings.access_token: required");
  config = baseConfig();
  config.settings.phoneDefaultRegion = "XX";
  EXPECT_FALSE(Destination::create(config).has_value());
  config.settings.phoneDefaultRegion = "us";
  EXPECT_TRUE(Destination::create(config).has_value());
  config = baseConfig();
  for (int i = 0; i < 44; ++i) config.subscriptions.push_back(subscription("", R"({"event":"X"})"));
  config.presets = {"all"};  // 7 + 44 > 50
  EXPECT_FALSE(Destination::create(config).has_value());
  EXPECT_TRUE(validateDestination(baseConfig()).has_value());
}

TEST(Destination, ValidationFailureGivesAReasonNotABody) {
  auto config = baseConfig();
  config.subscriptions.push_back(
      subscription("", R"({"event":{"@path":"$.event"},"value":{"@path":"$.properties.v"}})"));
  auto destination = Destination::create(config);
  ASSERT_TRUE(destination.has_value()) << destination.error().message;
  auto r = run(*destination, R"({"type":"track","event":"E","properties":{"v":"abc"}})");
  ASSERT_EQ(r.results.size(), 1u);
  ASSERT_FALSE(r.results[0].has_value());
  EXPECT_EQ(r.results[0].error().message, "Value must be a number but it was a string.");
  auto missing = run(*destination, R"({"type":"track","properties":{"v":"3"}})");
  EXPECT_EQ(missing.results[0].error().message,
            "The root value is missing the required field 'event'.");
}

TEST(Destination, MergeDefaultsFillsUnmappedFields) {
  auto config = baseConfig();
  config.subscriptions.push_back(
      subscription(R"(event = "Signed Up")", R"({"event":"CompleteRegistration"})", true));
  config.subscriptions.push_back(
      subscription(R"(event = "Signed Up")", R"({"event":"CompleteRegistration"})", false));
  auto destination = Destination::create(config);
  ASSERT_TRUE(destination.has_value());
  auto r = run(*destination,
               R"({"type":"track","event":"Signed Up","messageId":"m1","userId":"U",
                   "timestamp":"2024-03-15T10:20:30Z","context":{"traits":{"email":"A@B.C"}}})");
  ASSERT_EQ(r.results.size(), 2u);
  json::object merged = json::parse(r.results[0]->item).as_object();
  EXPECT_EQ(merged.at("event_id"), json::value("m1"));
  EXPECT_EQ(merged.at("user").at("email").at(0), json::value(sha256Hex("a@b.c")));
  EXPECT_EQ(merged.at("event_time"), json::value(1710498030));
  json::object bare = json::parse(r.results[1]->item).as_object();
  EXPECT_FALSE(bare.contains("event_id"));
  EXPECT_TRUE(bare.at("user").at("email").as_array().empty());
  EXPECT_EQ(bare.at("event_time"), json::value(kNow / 1000));  // no timestamp mapped: now
}

TEST(Destination, TimestampsD7) {
  auto config = baseConfig();
  config.subscriptions.push_back(
      subscription("", R"({"event":"E","timestamp":{"@path":"$.timestamp"}})"));
  auto destination = Destination::create(config);
  ASSERT_TRUE(destination.has_value());
  auto timeOf = [&](const std::string& event) {
    auto r = run(*destination, event);
    return json::parse(r.results.at(0)->item).at("event_time");
  };
  EXPECT_EQ(timeOf(R"({"timestamp":1710498030})"), json::value(1710498030));
  EXPECT_EQ(timeOf(R"({"timestamp":1710498030999})"), json::value(1710498030));
  EXPECT_EQ(timeOf(R"({"timestamp":"2024-03-15T12:20:30+02:00"})"), json::value(1710498030));
  EXPECT_EQ(timeOf(R"({"timestamp":"garbage"})"), json::value(kNow / 1000));
  // Unparsable: the time the event was received, when ingest recorded it.
  EXPECT_EQ(timeOf(R"({"timestamp":"garbage","receivedAt":"2024-03-15T10:20:31.5Z"})"),
            json::value(1710498031));
}

TEST(Destination, BatchKeyAndBody) {
  auto config = baseConfig();
  config.settings.testEventCode = "TEST1";
  config.subscriptions.push_back(subscription("", R"({"event":"A"})"));
  config.subscriptions.push_back(subscription(
      "",
      R"({"event":"B","event_source":"crm","test_event_code":"OWN","lead_fields":{"lead_id":"L1"}})"));
  auto destination = Destination::create(config);
  ASSERT_TRUE(destination.has_value());
  auto r = run(*destination, R"({"type":"track"})");
  ASSERT_EQ(r.results.size(), 2u);
  ASSERT_TRUE(r.results[0].has_value()) << r.results[0].error().message;
  ASSERT_TRUE(r.results[1].has_value()) << r.results[1].error().message;
  EXPECT_NE(r.results[1]->item.find(R"("lead":{"lead_id":"L1"})"), std::string::npos);
  const TikTokEvent& a = *r.results[0];
  const TikTokEvent& b = *r.results[1];
  EXPECT_EQ(a.key.pixelCode, "PIXEL1");
  EXPECT_EQ(a.key.accessToken, "secret-token");
  EXPECT_EQ(a.key.eventSource, "web");
  EXPECT_EQ(a.key.testEventCode, "TEST1");  // from the settings
  EXPECT_EQ(b.key.eventSource, "crm");
  EXPECT_EQ(b.key.testEventCode, "OWN");  // the mapped field wins
  EXPECT_FALSE(a.key == b.key);

  std::vector<TikTokEvent> three{a, a, a};
  json::object body = json::parse(destination->buildBody(three)).as_object();
  EXPECT_EQ(body.at("event_source"), json::value("web"));
  EXPECT_EQ(body.at("event_source_id"), json::value("PIXEL1"));
  EXPECT_EQ(body.at("test_event_code"), json::value("TEST1"));
  EXPECT_FALSE(body.contains("partner_name"));  // D1
  EXPECT_EQ(body.at("data").as_array().size(), 3u);
  EXPECT_EQ(destination->buildBody(three).find("secret-token"), std::string::npos);
  // Beyond the batch size buildBody() keeps on the stack: every item, in order.
  std::vector<TikTokEvent> many(20, a);
  many[19].item = R"({"last":true})";
  json::array data = json::parse(destination->buildBody(many)).as_object().at("data").as_array();
  ASSERT_EQ(data.size(), 20u);
  EXPECT_EQ(data[0], json::parse(a.item));
  EXPECT_EQ(data[19], json::parse(R"({"last":true})"));

  std::string_view items[] = {a.item};
  std::string withPartner = buildRequestBody(a.key, "Acme", items);
  EXPECT_EQ(
      withPartner.rfind(
          R"({"event_source":"web","event_source_id":"PIXEL1","partner_name":"Acme","test_event_code":"TEST1","data":[{)",
          0),
      0u)
      << withPartner;
}

TEST(Destination, PhoneDefaultRegionD10) {
  auto config = baseConfig();
  config.settings.phoneDefaultRegion = "US";
  config.subscriptions.push_back(
      subscription("", R"({"event":"E","phone_number":{"@path":"$.properties.phone"}})"));
  auto destination = Destination::create(config);
  ASSERT_TRUE(destination.has_value());
  auto r =
      run(*destination, R"({"properties":{"phone":["(415) 555-0100","+44 20 7946 0018"," "]}})");
  json::value phones = json::parse(r.results.at(0)->item).at("user").at("phone");
  EXPECT_EQ(phones, json::parse("[\"" + sha256Hex("+14155550100") + "\",\"" +
                                sha256Hex("+442079460018") + "\"]"));
}

// The event's own values reach validation as views (an `@path`), computed values as Boost.JSON
// values: the same value must give the same item, or the same errors, either way.
TEST(Destination, EventValuesAndComputedValuesValidateAlike) {
  constexpr const char* kFieldsTested[] = {"event_id",     "order_id",          "value",
                                           "email",        "content_ids",       "limited_data_use",
                                           "content_type", "delivery_category", "num_items"};
  std::string viewed = R"({"event":"E")";
  std::string computed = R"({"event":"E")";
  for (const char* field : kFieldsTested) {
    std::string path = std::string(R"({"@path":"$.properties.)") + field + "\"}";
    viewed += std::string(",\"") + field + "\":" + path;
    // encode then decode: the same value, computed by the mapping
    computed += std::string(",\"") + field + R"(":{"@json":{"mode":"decode","value":)" +
                R"({"@json":{"mode":"encode","value":)" + path + "}}}}";
  }
  viewed += "}";
  computed += "}";
  auto config = baseConfig();
  config.subscriptions.push_back(subscription("", viewed));
  config.subscriptions.push_back(subscription("", computed));
  auto destination = Destination::create(config);
  ASSERT_TRUE(destination.has_value()) << destination.error().message;

  constexpr const char* kValues[] = {
      R"("abc")",         R"("")",        "12",         "12.5",    "1e21",
      "9007199254740993", "-0",           "true",       "false",   "null",
      R"(["x"])",         R"(["x","y"])", "[1]",        "[true]",  "[]",
      R"([null,"a"])",    "{}",           R"({"a":1})", R"("12")", R"("true")",
      R"("in_store")",    R"("product")", R"("A@B.C")", "[[1]]"};
  size_t items = 0, errors = 0;
  for (const char* field : kFieldsTested) {
    for (const char* value : kValues) {
      std::string event = std::string(R"({"properties":{")") + field + "\":" + value + "}}";
      auto r = run(*destination, event);
      ASSERT_EQ(r.results.size(), 2u);
      ASSERT_EQ(r.results[0].has_value(), r.results[1].has_value()) << field << ": " << value;
      if (r.results[0].has_value()) {
        ++items;
        EXPECT_EQ(r.results[0]->item, r.results[1]->item) << field << ": " << value;
      } else {
        ++errors;
        EXPECT_EQ(r.results[0].error().message, r.results[1].error().message)
            << field << ": " << value;
      }
    }
  }
  EXPECT_GT(items, 100u);  // both outcomes were exercised
  EXPECT_GT(errors, 30u);

  // A few outcomes spelled out: kept views, coerced views, an unknown choice.
  auto itemOf = [&](const std::string& properties) {
    auto r = run(*destination, R"({"properties":)" + properties + "}");
    return json::parse(r.results.at(0).value().item).as_object();
  };
  json::object item = itemOf(
      R"({"order_id":12,"value":"12.5","email":"A@B.C","content_ids":"x","limited_data_use":true,)"
      R"("num_items":3,"event_id":"m1"})");
  EXPECT_EQ(item.at("properties").at("order_id"), json::value("12"));
  EXPECT_EQ(item.at("properties").at("value"), json::value(12.5));
  EXPECT_EQ(item.at("properties").at("content_ids"), json::parse(R"(["x"])"));
  EXPECT_EQ(item.at("properties").at("num_items"), json::value(3));
  EXPECT_EQ(item.at("user").at("email"), json::parse("[\"" + sha256Hex("a@b.c") + "\"]"));
  EXPECT_EQ(item.at("limited_data_use"), json::value(true));
  EXPECT_EQ(item.at("event_id"), json::value("m1"));
  auto bad = run(*destination, R"({"properties":{"delivery_category":"by_drone"}})");
  EXPECT_EQ(bad.results.at(0).error().message,
            R"(Delivery Category must be one of: "in_store", "curbside", or "home_delivery".)");
}

// Object fields made only of the event's values reach validation as views of the event
// (mapping::ViewObjects); with one computed member they are Boost.JSON values. Both must give the
// same item, or the same errors.
TEST(Destination, ObjectsOfEventValuesAndComputedObjectsValidateAlike) {
  struct Object {
    const char* field;
    const char* source;  // the @arrayPath's path for contents
    std::vector<const char*> members;
  };
  const Object objects[] = {
      {"address", nullptr, {"city", "country", "zip_code", "state"}},
      {"contents", "$.properties.products", {"price", "quantity", "content_id", "brand", "x"}},
      {"lead_fields", nullptr, {"lead_id", "lead_event_source"}},
      {"vehicle_fields",
       nullptr,
       {"make", "year", "mileage_unit", "mileage_value", "preferred_price_range_min",
        "preferred_price_range_max", "body_style"}},
      {"travel_fields", nullptr, {"city", "num_adults", "suggested_hotels", "travel_class"}}};
  auto mappingOf = [&](bool computed) {
    std::string out = R"({"event":"E","event_source":{"@path":"$.properties.source"},)"
                      R"("event_spec_type":{"@path":"$.properties.spec"})";
    for (const Object& object : objects) {
      std::string members;
      for (const char* member : object.members) {
        std::string path = std::string(R"({"@path":"$.)") + (object.source ? "" : "properties.o.") +
                           member + "\"}";
        if (computed) {
          path = R"({"@json":{"mode":"decode","value":{"@json":{"mode":"encode","value":)" + path +
                 "}}}}";
        }
        members += std::string(members.empty() ? "" : ",") + "\"" + member + "\":" + path;
      }
      out += std::string(",\"") + object.field + "\":";
      if (object.source) {
        out += std::string(R"({"@arrayPath":[")") + object.source + "\",{" + members + "}]}";
      } else {
        out += "{" + members + "}";
      }
    }
    return out + "}";
  };
  auto config = baseConfig();
  config.subscriptions.push_back(subscription("", mappingOf(false)));
  config.subscriptions.push_back(subscription("", mappingOf(true)));
  auto destination = Destination::create(config);
  ASSERT_TRUE(destination.has_value()) << destination.error().message;

  constexpr const char* kValues[] = {R"("abc")",   R"("")",     "12",      "12.5",         "null",
                                     "true",       R"(["x"])",  "[]",      "{}",           R"("7")",
                                     R"("Sedan")", R"("prem")", R"("MI")", R"(["a",null])"};
  constexpr const char* kSetups[] = {R"("source":"web","spec":"vehicle_fields")",
                                     R"("source":"web","spec":"travel_fields")",
                                     R"("source":"crm")"};
  // A valid event, then each member in turn set to each value.
  const json::object base =
      json::parse(
          R"({"o":{"city":"Den Haag","country":"NL","zip_code":"2511","lead_id":"L1","make":"VW",)"
          R"("year":2020,"mileage_unit":"KM","mileage_value":12,"preferred_price_range_min":1,)"
          R"("preferred_price_range_max":9,"body_style":"Sedan","num_adults":2,)"
          R"("suggested_hotels":"H","travel_class":"eco"},)"
          R"("products":[{"price":5,"quantity":2,"brand":"B","x":1},{"content_id":"c"}]})")
          .as_object();
  size_t items = 0, errors = 0;
  for (const char* setup : kSetups) {
    for (const char* value : kValues) {
      std::vector<json::object> variants;
      for (const auto& member : base.at("o").as_object()) {
        json::object properties = base;
        properties.at("o").as_object()[member.key()] = json::parse(value);
        variants.push_back(std::move(properties));
      }
      for (const char* member : {"price", "brand", "content_id"}) {
        json::object properties = base;
        properties.at("products").as_array()[0].as_object()[member] = json::parse(value);
        variants.push_back(properties);
        properties["products"] = properties.at("products").as_array()[0];  // one object
        variants.push_back(std::move(properties));
      }
      for (json::object& properties : variants) {
        json::object setupFields = json::parse(std::string("{") + setup + "}").as_object();
        for (const auto& kv : setupFields) properties[kv.key()] = kv.value();
        std::string event = R"({"properties":)" + json::serialize(properties) + "}";
        auto r = run(*destination, event);
        ASSERT_EQ(r.results.size(), 2u);
        ASSERT_EQ(r.results[0].has_value(), r.results[1].has_value()) << event;
        if (r.results[0].has_value()) {
          ++items;
          EXPECT_EQ(r.results[0]->item, r.results[1]->item) << event;
        } else {
          ++errors;
          EXPECT_EQ(r.results[0].error().message, r.results[1].error().message) << event;
        }
      }
    }
  }
  EXPECT_GT(items, 300u);
  EXPECT_GT(errors, 100u);

  // Spelled out: members read in place, an unknown choice inside an object, a null dropped.
  auto r = run(*destination,
               R"({"properties":{"source":"web","spec":"vehicle_fields","o":{"city":"Den Haag",)"
               R"("make":"VW","year":2020,"mileage_unit":"KM","mileage_value":12,)"
               R"("body_style":null},"products":[{"price":5,"brand":"B","x":1}]}})");
  json::object item = json::parse(r.results.at(0).value().item).as_object();
  EXPECT_EQ(item.at("user").at("city"), json::value("denhaag"));
  EXPECT_EQ(item.at("properties").at("contents"), json::parse(R"([{"price":5,"brand":"B"}])"));
  EXPECT_EQ(item.at("properties").at("make"), json::value("VW"));
  EXPECT_EQ(item.at("properties").at("mileage"), json::parse(R"({"unit":"KM","value":12})"));
  EXPECT_FALSE(item.at("properties").as_object().contains("body_style"));
  auto bad = run(*destination,
                 R"({"properties":{"source":"web","o":{"body_style":"Tank","travel_class":"x"}}})");
  EXPECT_EQ(bad.results.at(0).error().message,
            R"(Body Type of the Vehicle must be one of: "Convertible", "Coupe", "Hatchback", )"
            R"("Minivan", "Truck", "SUV", "Sedan", "Van", "Wagon", "Crossover", or "Other". )"
            R"(Flight Ticket Class must be one of: "eco", "prem", "bus", or "first".)");
}

}  // namespace
}  // namespace sluice::tiktok
