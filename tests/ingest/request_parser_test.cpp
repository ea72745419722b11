#include "ingest/request_parser.h"

#include <zlib.h>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/time.h"
#include "ingest/fake_event_log.h"

namespace sluice::ingest {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

constexpr EpochMs kReceived = 1'717'243'230'000;  // 2024-06-01T12:00:30.000Z

class ParserTest : public ::testing::Test {
 protected:
  Result<ParsedRequest> parse(std::string_view body, Route route = Route::kTrack,
                              std::string_view ip = "203.0.113.9") {
    ParseContext context{route, kReceived, ip, &random_};
    return parseRequest(body, context);
  }
  // Parses a single accepted event and returns it as a JSON object.
  json::object accept(std::string_view body, Route route = Route::kTrack,
                      std::string_view ip = "203.0.113.9") {
    auto parsed = parse(body, route, ip);
    EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error().message);
    if (!parsed) return {};
    EXPECT_EQ(parsed->rejected.size(), 0u)
        << (parsed->rejected.empty() ? "" : parsed->rejected[0].reason);
    EXPECT_EQ(parsed->events.size(), 1u);
    if (parsed->events.empty()) return {};
    last_ = parsed->events[0];
    json::parse_options options;
    options.max_depth = 100;
    return json::parse(parsed->events[0].json, {}, options).as_object();
  }
  // Parses a single event that must be rejected and returns the reason.
  std::string reject(std::string_view body, Route route = Route::kTrack) {
    auto parsed = parse(body, route);
    EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error().message);
    if (!parsed) return {};
    EXPECT_EQ(parsed->events.size(), 0u);
    EXPECT_EQ(parsed->rejected.size(), 1u);
    return parsed->rejected.empty() ? "" : parsed->rejected[0].reason;
  }
  std::string requestError(std::string_view body, Route route = Route::kTrack) {
    auto parsed = parse(body, route);
    EXPECT_FALSE(parsed.has_value());
    return parsed ? "" : parsed.error().message;
  }

  testing::CountingRandom random_;
  ParsedEvent last_;
};

TEST(RouteTest, LongAndShortPaths) {
  EXPECT_EQ(routeForPath("/v1/track"), Route::kTrack);
  EXPECT_EQ(routeForPath("/v1/t"), Route::kTrack);
  EXPECT_EQ(routeForPath("/v1/page"), Route::kPage);
  EXPECT_EQ(routeForPath("/v1/p"), Route::kPage);
  EXPECT_EQ(routeForPath("/v1/identify"), Route::kIdentify);
  EXPECT_EQ(routeForPath("/v1/i"), Route::kIdentify);
  EXPECT_EQ(routeForPath("/v1/screen"), Route::kScreen);
  EXPECT_EQ(routeForPath("/v1/s"), Route::kScreen);
  EXPECT_EQ(routeForPath("/v1/group"), Route::kGroup);
  EXPECT_EQ(routeForPath("/v1/g"), Route::kGroup);
  EXPECT_EQ(routeForPath("/v1/alias"), Route::kAlias);
  EXPECT_EQ(routeForPath("/v1/a"), Route::kAlias);
  EXPECT_EQ(routeForPath("/v1/batch"), Route::kBatch);
  EXPECT_EQ(routeForPath("/v1/b"), Route::kBatch);
  EXPECT_EQ(routeForPath("/v1/import"), Route::kBatch);
  EXPECT_EQ(routeForPath("/beacon/v1/batch"), Route::kBatch);
  EXPECT_EQ(routeForPath("/v1/webhook"), Route::kWebhook);
  EXPECT_EQ(routeForPath("/v1/track/"), Route::kTrack);
  EXPECT_EQ(routeForPath("/v1/tracks"), std::nullopt);
  EXPECT_EQ(routeForPath("/v1/x"), std::nullopt);
  EXPECT_EQ(routeForPath("/healthz"), std::nullopt);
  EXPECT_EQ(routeForPath(""), std::nullopt);
  EXPECT_TRUE(isBeaconPath("/beacon/v1/batch"));
  EXPECT_FALSE(isBeaconPath("/v1/batch"));
}

TEST_F(ParserTest, TrackIsEnriched) {
  auto event = accept(R"({"event":"Order Completed","userId":"u1","properties":{"total":12.5}})");
  EXPECT_EQ(event.at("type"), "track");
  EXPECT_EQ(event.at("event"), "Order Completed");
  EXPECT_EQ(event.at("properties").at("total"), 12.5);
  // CountingRandom gives 1 then 2: version and variant bits are set.
  EXPECT_EQ(event.at("messageId"), "sluice-00000000-0000-4001-8000-000000000002");
  EXPECT_EQ(event.at("receivedAt"), "2024-06-01T12:00:30.000Z");
  EXPECT_EQ(event.at("timestamp"), "2024-06-01T12:00:30.000Z");
  EXPECT_FALSE(event.contains("originalTimestamp"));
  EXPECT_EQ(event.at("context").at("ip"), "203.0.113.9");
  EXPECT_EQ(last_.type, "track");
  EXPECT_EQ(last_.name, "Order Completed");
  EXPECT_EQ(last_.messageId, "sluice-00000000-0000-4001-8000-000000000002");
  EXPECT_EQ(last_.timestampMs, kReceived);
}

TEST_F(ParserTest, RouteSetsTypeForEveryEventRoute) {
  EXPECT_EQ(accept(R"({"userId":"u","name":"Home"})", Route::kPage).at("type"), "page");
  EXPECT_EQ(accept(R"({"userId":"u","traits":{"a":1}})", Route::kIdentify).at("type"), "identify");
  EXPECT_EQ(accept(R"({"anonymousId":"a","name":"S"})", Route::kScreen).at("type"), "screen");
  EXPECT_EQ(accept(R"({"userId":"u","groupId":"g"})", Route::kGroup).at("type"), "group");
  EXPECT_EQ(accept(R"({"userId":"u","previousId":"p"})", Route::kAlias).at("type"), "alias");
  // The path wins over a type in the body.
  EXPECT_EQ(accept(R"({"type":"identify","userId":"u","event":"E"})").at("type"), "track");
}

TEST_F(ParserTest, KeepsGivenMessageIdAndUnknownFields) {
  auto event = accept(
      R"({"event":"E","anonymousId":"a","messageId":"m-1","_metadata":{"bundled":["Segment.io"]},)"
      R"("big":18446744073709551615,"neg":-5,"f":1.5e3,"t":true,"n":null,"s":"q\"\\\n\u00e9"})");
  EXPECT_EQ(event.at("messageId"), "m-1");
  EXPECT_EQ(last_.messageId, "m-1");
  EXPECT_EQ(event.at("_metadata").at("bundled").as_array()[0], "Segment.io");
  EXPECT_EQ(event.at("big").as_uint64(), 18446744073709551615ull);
  EXPECT_EQ(event.at("neg"), -5);
  EXPECT_EQ(event.at("f").to_number<double>(), 1500.0);
  EXPECT_EQ(event.at("t"), true);
  EXPECT_TRUE(event.at("n").is_null());
  EXPECT_EQ(event.at("s"), "q\"\\\n\xC3\xA9");
}

// Unchanged members are copied from the request text; the stored bytes are the compact form
// (whitespace dropped, \u escapes of printable characters as UTF-8, "\/" as "/", integers as sent
// with "-0" as 0, other numbers in std::to_chars' shortest form), whatever the way the request was
// written.
TEST_F(ParserTest, StoredTextIsCompactWhateverTheInputsForm) {
  const std::string_view expected =
      R"({"event":"E","userId":"u\"1\\","messageId":"m-1","s":"tab\t é😀 / \u0001\u001f\n","n":)"
      R"([0,0,-0,1e+05,1e-07,1e-04,123456789012345678,18446744073709551615,129.95,1,2500,)"
      R"(1e+21],"o":{"a":{"b":[{},[],true,false,null]}},"properties":{"price":79.95,)"
      R"("k\"é":"v"},"context":{"page":{"url":"https://x/?a=1"},"ip":"203.0.113.9"},)"
      R"("type":"track","timestamp":"2024-06-01T12:00:30.000Z",)"
      R"("receivedAt":"2024-06-01T12:00:30.000Z"})";
  std::string compact = parse(
      R"({"event":"E","userId":"u\"1\\","messageId":"m-1",)"
      R"("s":"tab\t \u00e9\ud83d\ude00 \/ \u0001\u001F\u000a","n":[0,-0,-0.0,1E5,1e-7,0.0001,)"
      R"(123456789012345678,18446744073709551615,129.950,1.0,2.5e+3,)"
      R"(1e21],"o":{"a":{"b":[{},[],true,false,null]}},)"
      R"("properties":{"price":79.95,"k\"\u00e9":"v"},)"
      R"("context":{"page":{"url":"https:\/\/x\/?a=1"}}})")->events.at(0).json;
  // The same event pretty-printed, with escapes in keys too.
  std::string pretty = parse(
      "{\n  \"event\" : \"E\",\n  \"userId\":\"u\\\"1\\\\\" ,\t\"messageId\" : \"m-1\",\r\n"
      "  \"s\" : \"tab\\t \\u00e9\\ud83d\\ude00 \\/ \\u0001\\u001f\\n\",\n"
      "  \"n\" : [ 0 , -0 , -0.0 , 1e+5 , 1E-7 , 1e-4 , 123456789012345678 ,"
      " 18446744073709551615 , 129.95 , 1 , 2500 , 1E+21 ] ,\n"
      "  \"o\" : { \"a\" : { \"b\" : [ { } , [ ] , true , false , null ] } } ,\n"
      "  \"properties\" : { \"price\" : 7.995e1 , \"k\\u0022\\u00e9\" : \"v\" } ,\n"
      "  \"cont\\u0065xt\" : { \"page\" : { \"url\" : \"https://x/?a=1\" } }\n}\n")
                           ->events.at(0).json;
  EXPECT_EQ(compact, expected);
  EXPECT_EQ(pretty, expected);
}

// In a batch each event is read at its own place in the text, whatever comes before the array, and
// rejected events do not shift the ones after them.
TEST_F(ParserTest, BatchEventsAreCopiedFromTheirOwnText) {
  auto parsed = parse(
      R"({ "writeKey" : "k" , "context" : {"x":[1,{"y":"\u00e9"}]},)"
      R"( "batch" : [{"type":"track"}],)"
      R"( "b\u0061tch" : "not this" , "batch" : [ {"type":"track","event":"A","userId":"u",)"
      R"("context":{"a":1.50}} , {"type":"track","userId":"u"} , [1] , )"
      R"({"type":"identify","userId":"u2","traits":{"d":[[[[]]]],"e":"\/"}}, )"
      R"({"type":"page","userId":"u3","properties":{"p":)" +
          std::string(62, '[') + std::string(62, ']') +
          R"(}} , {"type":"screen","anonymousId":"a",)"
      R"("properties":{"z":-0}} ] })",
      Route::kBatch);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->total, 6u);
  ASSERT_EQ(parsed->events.size(), 4u);
  ASSERT_EQ(parsed->rejected.size(), 2u);
  EXPECT_EQ(parsed->rejected[1].reason, "event is not a JSON object");
  EXPECT_THAT(parsed->events[0].json,
              ::testing::StartsWith(
                  R"({"type":"track","event":"A","userId":"u","context":{"a":1.5,)"));
  EXPECT_NE(parsed->events[0].json.find(R"("x":[1,{"y":"é"}])"), std::string::npos);
  EXPECT_THAT(parsed->events[1].json,
              ::testing::StartsWith(
                  R"({"type":"identify","userId":"u2","traits":{"d":[[[[]]]],"e":"/"},)"));
  EXPECT_THAT(parsed->events[2].json,
              ::testing::StartsWith(R"({"type":"page","userId":"u3","properties":{"p":)" +
                                    std::string(62, '[') + std::string(62, ']') + "},"));
  EXPECT_THAT(parsed->events[3].json,
              ::testing::StartsWith(R"({"type":"screen","anonymousId":"a","properties":{"z":0},)"));
}

TEST_F(ParserTest, EmptyOrNullMessageIdIsAssigned) {
  EXPECT_THAT(std::string(accept(R"({"event":"E","userId":"u","messageId":""})")
                              .at("messageId").as_string()),
              ::testing::StartsWith("sluice-"));
  EXPECT_THAT(std::string(accept(R"({"event":"E","userId":"u","messageId":null})")
                              .at("messageId").as_string()),
              ::testing::StartsWith("sluice-"));
}

TEST_F(ParserTest, RepeatedKnownKeysKeepOnlyTheLastOccurrence) {
  auto parsed = parse(R"({"event":"E","userId":"u","messageId":"first","messageId":"last"})");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->events.size(), 1u);
  EXPECT_EQ(parsed->events[0].messageId, "last");
  EXPECT_EQ(parsed->events[0].json.find("first"), std::string::npos);
  EXPECT_EQ(json::parse(parsed->events[0].json).at("messageId"), "last");
}

TEST_F(ParserTest, WriteKeyIsRemovedAndReceivedAtReplaced) {
  auto parsed = parse(R"({"event":"E","userId":"u","writeKey":"secret-key","receivedAt":"x"})");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->writeKey, "secret-key");
  ASSERT_EQ(parsed->events.size(), 1u);
  EXPECT_EQ(parsed->events[0].json.find("secret-key"), std::string::npos);
  auto event = json::parse(parsed->events[0].json).as_object();
  EXPECT_FALSE(event.contains("writeKey"));
  EXPECT_EQ(event.at("receivedAt"), "2024-06-01T12:00:30.000Z");
}

TEST_F(ParserTest, ClockSkewIsCorrected) {
  // The device clock is 5 minutes fast: it stamped the event at 12:05:00 and sent it at 12:05:10;
  // it arrived at 12:00:30, so it happened 10 s earlier by the server's clock.
  auto event = accept(R"({"event":"E","userId":"u","timestamp":"2024-06-01T12:05:00.000Z",)"
                      R"("sentAt":"2024-06-01T12:05:10.000Z"})");
  EXPECT_EQ(event.at("timestamp"), "2024-06-01T12:00:20.000Z");
  EXPECT_EQ(event.at("originalTimestamp"), "2024-06-01T12:05:00.000Z");
  EXPECT_EQ(event.at("sentAt"), "2024-06-01T12:05:10.000Z");
  EXPECT_EQ(last_.timestampMs, kReceived - 10'000);
}

TEST_F(ParserTest, OriginalTimestampWinsOverTimestamp) {
  auto event = accept(R"({"event":"E","userId":"u","timestamp":"2020-01-01T00:00:00Z",)"
                      R"("originalTimestamp":"2024-06-01T12:00:00.000Z",)"
                      R"("sentAt":"2024-06-01T12:00:01.000Z"})");
  EXPECT_EQ(event.at("timestamp"), "2024-06-01T12:00:29.000Z");
  EXPECT_EQ(event.at("originalTimestamp"), "2024-06-01T12:00:00.000Z");
}

TEST_F(ParserTest, TimestampWithoutSentAtIsKept) {
  auto event = accept(R"({"event":"E","userId":"u","timestamp":"2024-05-01T00:00:00+02:00"})");
  EXPECT_EQ(event.at("timestamp"), "2024-04-30T22:00:00.000Z");
  EXPECT_EQ(event.at("originalTimestamp"), "2024-05-01T00:00:00+02:00");
  // Epoch seconds and milliseconds are understood too.
  accept(R"({"event":"E","userId":"u","timestamp":1717243200})");
  EXPECT_EQ(last_.timestampMs, 1'717'243'200'000);
  accept(R"({"event":"E","userId":"u","timestamp":1717243200123})");
  EXPECT_EQ(last_.timestampMs, 1'717'243'200'123);
}

TEST_F(ParserTest, WebhookKeepsSegmentsTimestamp) {
  auto event = accept(R"({"type":"track","event":"E","userId":"u",)"
                      R"("timestamp":"2024-06-01T11:00:00.000Z","sentAt":"2024-06-01T11:59:00Z",)"
                      R"("originalTimestamp":"2024-06-01T10:00:00.000Z","messageId":"seg-1"})",
                      Route::kWebhook);
  EXPECT_EQ(event.at("timestamp"), "2024-06-01T11:00:00.000Z");
  EXPECT_EQ(event.at("messageId"), "seg-1");
  EXPECT_EQ(last_.timestampMs, 1'717'239'600'000);
}

TEST_F(ParserTest, ContextIpIsAddedOnlyWhenAbsent) {
  EXPECT_EQ(accept(R"({"event":"E","userId":"u","context":{"ip":"198.51.100.1"}})")
                .at("context").at("ip"),
            "198.51.100.1");
  auto event = accept(R"({"event":"E","userId":"u","context":{"library":{"name":"x"}}})");
  EXPECT_EQ(event.at("context").at("ip"), "203.0.113.9");
  EXPECT_EQ(event.at("context").at("library").at("name"), "x");
  EXPECT_FALSE(accept(R"({"event":"E","userId":"u"})", Route::kTrack, "").contains("context"));
}

TEST_F(ParserTest, BatchLevelFieldsAreMerged) {
  auto parsed = parse(
      R"({"writeKey":"k","sentAt":"2024-06-01T12:00:40.000Z",)"
      R"("context":{"library":{"name":"batch"},"locale":"fr","ip":"192.0.2.1"},)"
      R"("integrations":{"All":false,"TikTok":true},)"
      R"("batch":[{"type":"track","event":"A","userId":"u","timestamp":"2024-06-01T12:00:35.000Z",)"
      R"("context":{"locale":"en"},"integrations":{"All":true}},)"
      R"({"type":"identify","anonymousId":"a"}]})",
      Route::kBatch);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->writeKey, "k");
  ASSERT_EQ(parsed->events.size(), 2u);
  auto first = json::parse(parsed->events[0].json).as_object();
  EXPECT_EQ(first.at("context").at("locale"), "en");
  EXPECT_EQ(first.at("context").at("library").at("name"), "batch");
  EXPECT_EQ(first.at("context").at("ip"), "192.0.2.1");
  EXPECT_EQ(first.at("integrations").at("All"), true);
  EXPECT_EQ(first.at("integrations").at("TikTok"), true);
  EXPECT_EQ(first.at("sentAt"), "2024-06-01T12:00:40.000Z");
  EXPECT_EQ(first.at("timestamp"), "2024-06-01T12:00:25.000Z");  // 5 s before sentAt
  auto second = json::parse(parsed->events[1].json).as_object();
  EXPECT_EQ(second.at("type"), "identify");
  EXPECT_EQ(second.at("context").at("locale"), "fr");
  EXPECT_EQ(second.at("integrations").at("All"), false);
  EXPECT_EQ(second.at("timestamp"), "2024-06-01T12:00:30.000Z");
  EXPECT_NE(parsed->events[0].messageId, parsed->events[1].messageId);
}

TEST_F(ParserTest, ValidationErrorsNameTheProblem) {
  EXPECT_EQ(reject(R"({"event":"E"})"), "missing 'userId' or 'anonymousId'");
  EXPECT_EQ(reject(R"({"event":"E","userId":"","anonymousId":null})"),
            "missing 'userId' or 'anonymousId'");
  EXPECT_EQ(reject(R"({"event":"E","userId":true})"), "'userId' must be a string or a number");
  EXPECT_EQ(reject(R"({"event":"E","anonymousId":{}})"),
            "'anonymousId' must be a string or a number");
  EXPECT_EQ(reject(R"({"userId":"u"})"), "track needs 'event' (a non-empty string)");
  EXPECT_EQ(reject(R"({"userId":"u","event":""})"), "track needs 'event' (a non-empty string)");
  EXPECT_EQ(reject(R"({"userId":"u","event":5})"), "track needs 'event' (a non-empty string)");
  EXPECT_EQ(reject(R"({"userId":"u","event":"E","properties":[]})"),
            "'properties' must be an object");
  EXPECT_EQ(reject(R"({"userId":"u","traits":"x"})", Route::kIdentify),
            "'traits' must be an object");
  EXPECT_EQ(reject(R"({"userId":"u","event":"E","context":1})"), "'context' must be an object");
  EXPECT_EQ(reject(R"({"userId":"u","event":"E","integrations":"all"})"),
            "'integrations' must be an object");
  EXPECT_EQ(reject(R"({"userId":"u","event":"E","timestamp":"yesterday"})"),
            "'timestamp' is not a valid date");
  EXPECT_EQ(reject(R"({"userId":"u","event":"E","timestamp":true})"),
            "'timestamp' is not a valid date");
  EXPECT_EQ(reject(R"({"userId":"u","event":"E","sentAt":"2024-13-01"})"),
            "'sentAt' is not a valid date");
  EXPECT_EQ(reject(R"({"userId":"u","event":"E","messageId":7})"), "'messageId' must be a string");
  EXPECT_EQ(reject(R"({"userId":"u","name":7})", Route::kPage), "'name' must be a string");
  EXPECT_EQ(reject(R"({"userId":"u"})", Route::kGroup), "group needs 'groupId'");
  EXPECT_EQ(reject(R"({"userId":"u"})", Route::kAlias), "alias needs 'previousId'");
  EXPECT_EQ(reject(R"({"anonymousId":"a","previousId":"p"})", Route::kAlias),
            "alias needs 'userId'");
  EXPECT_EQ(reject(R"({"userId":"u","event":"E"})", Route::kWebhook), "missing 'type'");
  EXPECT_EQ(reject(R"({"type":"purchase","userId":"u"})", Route::kWebhook),
            "unknown type 'purchase'");
  EXPECT_EQ(reject(R"({"type":3,"userId":"u"})", Route::kWebhook), "'type' must be a string");
  std::string longId(kMaxMessageIdBytes + 1, 'm');
  EXPECT_EQ(reject(R"({"userId":"u","event":"E","messageId":")" + longId + "\"}"),
            "'messageId' longer than 1024 bytes");
  // Alias needs no anonymousId, identify accepts a numeric userId.
  accept(R"({"userId":"u","previousId":"p"})", Route::kAlias);
  accept(R"({"userId":42})", Route::kIdentify);
}

TEST_F(ParserTest, WholeRequestErrors) {
  EXPECT_THAT(requestError(R"({"event":"E","userId":"u")"), HasSubstr("invalid JSON"));
  EXPECT_EQ(requestError(""), "empty body");
  EXPECT_EQ(requestError("[1]"), "body must be a JSON object");
  EXPECT_EQ(requestError("{\"event\":\"\xff\",\"userId\":\"u\"}"), "body is not valid UTF-8");
  EXPECT_EQ(requestError("{\"event\":\"\xc3\",\"userId\":\"u\"}"), "body is not valid UTF-8");
  EXPECT_EQ(requestError(R"({"writeKey":"k"})", Route::kBatch), "missing 'batch' array");
  EXPECT_EQ(requestError(R"({"batch":{}})", Route::kBatch), "'batch' must be an array");
  EXPECT_EQ(requestError(R"([])", Route::kBatch),
            "body must be a JSON object with a 'batch' array");
  EXPECT_EQ(requestError(R"({"batch":[],"context":5})", Route::kBatch),
            "batch 'context' must be an object");
}

TEST_F(ParserTest, BatchRejectsSomeAndKeepsTheRest) {
  auto parsed = parse(R"({"batch":[{"type":"track","event":"A","userId":"u"},)"
                      R"({"type":"track","userId":"u","writeKey":"hidden"},7,)"
                      R"({"type":"page","anonymousId":"a"},{"event":"B","userId":"u"}]})",
                      Route::kBatch);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->total, 5u);
  ASSERT_EQ(parsed->events.size(), 2u);
  EXPECT_EQ(parsed->events[0].name, "A");
  EXPECT_EQ(parsed->events[1].type, "page");
  ASSERT_EQ(parsed->rejected.size(), 3u);
  EXPECT_EQ(parsed->rejected[0].index, 1u);
  EXPECT_EQ(parsed->rejected[0].reason, "track needs 'event' (a non-empty string)");
  EXPECT_EQ(parsed->rejected[0].payload, R"({"type":"track","userId":"u"})");
  EXPECT_EQ(parsed->rejected[1].index, 2u);
  EXPECT_EQ(parsed->rejected[1].reason, "event is not a JSON object");
  EXPECT_EQ(parsed->rejected[1].payload, "7");
  EXPECT_EQ(parsed->rejected[2].index, 4u);
  EXPECT_EQ(parsed->rejected[2].reason, "missing 'type'");
}

// A compact track event of exactly `size` bytes.
std::string eventOfSize(size_t size) {
  std::string head = R"({"type":"track","event":"E","userId":"u","properties":{"pad":")";
  std::string tail = "\"}}";
  return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}

TEST_F(ParserTest, EventSizeLimitIsExact) {
  EXPECT_EQ(eventOfSize(kMaxEventBytes).size(), kMaxEventBytes);
  accept(eventOfSize(kMaxEventBytes));
  EXPECT_EQ(reject(eventOfSize(kMaxEventBytes + 1)),
            "event is 32769 bytes; the limit is 32768");
  // Whitespace does not count; the size is that of compact JSON.
  std::string spaced = eventOfSize(kMaxEventBytes);
  spaced.insert(1, 100, ' ');
  accept(spaced);
  // The same limit applies inside a batch, counting the event as sent (writeKey included).
  std::string event = eventOfSize(kMaxEventBytes);
  auto parsed = parse("{\"batch\":[" + event + "," + eventOfSize(kMaxEventBytes + 1) + "]}",
                      Route::kBatch);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->events.size(), 1u);
  ASSERT_EQ(parsed->rejected.size(), 1u);
  EXPECT_EQ(parsed->rejected[0].index, 1u);
  std::string withKey = eventOfSize(kMaxEventBytes - 15);
  withKey.insert(1, R"("writeKey":"k",)");
  EXPECT_EQ(withKey.size(), kMaxEventBytes);
  accept(withKey);
  withKey.insert(13, "k");
  EXPECT_EQ(reject(withKey), "event is 32769 bytes; the limit is 32768");
}

TEST_F(ParserTest, RequestSizeLimitIsExact) {
  std::string body = R"({"batch":[{"type":"track","event":"E","userId":"u"}]})";
  std::string padded = body + std::string(kMaxRequestBytes - body.size(), ' ');
  EXPECT_TRUE(parse(padded, Route::kBatch).has_value());
  padded.push_back(' ');
  auto parsed = parse(padded, Route::kBatch);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(parsed.error().message, "request body is 512001 bytes; the limit is 512000");
}

TEST_F(ParserTest, BatchCountLimitIsExact) {
  auto batchOf = [](size_t count) {
    std::string body = R"({"batch":[)";
    for (size_t i = 0; i < count; ++i) {
      if (i > 0) body.push_back(',');
      body.append(R"({"type":"track","event":"E","userId":"u"})");
    }
    return body + "]}";
  };
  auto parsed = parse(batchOf(kMaxBatchEvents), Route::kBatch);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->events.size(), kMaxBatchEvents);
  parsed = parse(batchOf(kMaxBatchEvents + 1), Route::kBatch);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(parsed.error().message, "batch has 2501 events; the limit is 2500");
}

// A track event whose properties nest so that the deepest object is at `depth` (event = 1).
std::string nestedEvent(size_t depth) {
  std::string open, close;
  for (size_t level = 3; level <= depth; ++level) {
    open += "{\"a\":";
    close += "}";
  }
  return R"({"event":"E","userId":"u","properties":)" + open + "{}" + close + "}";
}

TEST_F(ParserTest, NestingIsBounded) {
  accept(nestedEvent(kMaxDepth));
  EXPECT_EQ(reject(nestedEvent(kMaxDepth + 1)), "nested deeper than 64 levels");
  EXPECT_EQ(requestError(nestedEvent(kMaxDepth + 10)), "JSON nested deeper than 64 levels");
  EXPECT_EQ(requestError(std::string(100000, '[') + std::string(100000, ']')),
            "JSON nested deeper than 64 levels");
  // Inside a batch the event is still depth 1 (the batch route requires a type).
  const auto typed = [](size_t depth) {
    return "{\"type\":\"track\"," + nestedEvent(depth).substr(1);
  };
  auto parsed = parse("{\"batch\":[" + typed(kMaxDepth) + "]}", Route::kBatch);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->events.size(), 1u);
  EXPECT_TRUE(parsed->rejected.empty());
  parsed = parse("{\"batch\":[" + typed(kMaxDepth) + "," + typed(kMaxDepth + 1) + "]}",
                 Route::kBatch);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->events.size(), 1u);
  ASSERT_EQ(parsed->rejected.size(), 1u);
  EXPECT_EQ(parsed->rejected[0].index, 1u);
  EXPECT_EQ(parsed->rejected[0].reason, "nested deeper than 64 levels");
}

std::string gzip(std::string_view data, int windowBits = 15 + 16) {
  z_stream stream{};
  deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, windowBits, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, data.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

TEST(DecodeBodyTest, Gzip) {
  std::string body = R"({"event":"E","userId":"u"})";
  auto decoded = decodeBody(gzip(body), "gzip", kMaxRequestBytes);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, body);
  decoded = decodeBody(gzip(body, 15), "deflate", kMaxRequestBytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, body);
  EXPECT_EQ(*decodeBody(body, "", kMaxRequestBytes), body);
  EXPECT_EQ(*decodeBody(body, "identity", kMaxRequestBytes), body);
  EXPECT_EQ(decodeBody(body, "br", kMaxRequestBytes).error().code, ErrorCode::kNotFound);
}

TEST(DecodeBodyTest, CorruptAndTruncated) {
  std::string compressed = gzip(std::string(1000, 'a'));
  auto truncated = decodeBody(compressed.substr(0, compressed.size() / 2), "gzip", 10000);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code, ErrorCode::kInvalidArgument);
  std::string corrupt = compressed;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x55);
  corrupt[13] = static_cast<char>(corrupt[13] ^ 0x55);
  auto bad = decodeBody(corrupt, "gzip", 10000);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  auto notGzip = decodeBody("plain text", "gzip", 10000);
  ASSERT_FALSE(notGzip);
  EXPECT_EQ(notGzip.error().code, ErrorCode::kInvalidArgument);
  auto trailing = decodeBody(compressed + "junk", "gzip", 10000);
  ASSERT_FALSE(trailing);
}

TEST(DecodeBodyTest, BombStopsAtTheLimit) {
  std::string bomb = gzip(std::string(50 << 20, '\0'));  // 50 MB of zeros in ~50 KB
  EXPECT_LT(bomb.size(), 100u << 10);
  auto decoded = decodeBody(bomb, "gzip", kMaxRequestBytes);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, ErrorCode::kResourceExhausted);
  // Exactly at the limit passes; one byte more does not.
  EXPECT_EQ(decodeBody(gzip(std::string(kMaxRequestBytes, 'a')), "gzip", kMaxRequestBytes)->size(),
            kMaxRequestBytes);
  EXPECT_FALSE(decodeBody(gzip(std::string(kMaxRequestBytes + 1, 'a')), "gzip", kMaxRequestBytes));
}

TEST(MessageIdTest, IsUuidV4) {
  DefaultRandom random(7);
  std::string a = newMessageId(random);
  std::string b = newMessageId(random);
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 7u + 36u);
  EXPECT_EQ(a.substr(0, 7), "sluice-");
  EXPECT_EQ(a[7 + 14], '4');
  EXPECT_THAT(std::string("89ab"), HasSubstr(std::string(1, a[7 + 19])));
  for (size_t i : {8u, 13u, 18u, 23u}) EXPECT_EQ(a[7 + i], '-');
}

TEST(BoundedTextTest, CutsOnCharacterBoundariesAndReplacesInvalidBytes) {
  EXPECT_EQ(boundedText("abc", 10), "abc");
  EXPECT_EQ(boundedText("abcdef", 3), "abc");
  EXPECT_EQ(boundedText("a\xC3\xA9", 2), "a");
  EXPECT_EQ(boundedText("a\xC3\xA9", 3), "a\xC3\xA9");
  EXPECT_EQ(boundedText("a\xFFz", 10), "a\xEF\xBF\xBDz");
  EXPECT_EQ(boundedText("\xED\xA0\x80", 10), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(boundedText("\xC3", 10), "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace sluice::ingest
