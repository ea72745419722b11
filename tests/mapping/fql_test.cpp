#include "mapping/fql.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "mapping/js_number.h"
#include "reference_dir.h"

namespace sluice::mapping {
namespace {

class FqlTest : public ::testing::Test {
 protected:
  // Parses `trigger` (must succeed) and evaluates it on the JSON event `json`.
  bool eval(std::string_view trigger, std::string_view json) {
    auto t = Trigger::parse(trigger);
    EXPECT_TRUE(t.has_value()) << trigger << ": " << (t ? "" : t.error().message);
    if (!t) return false;
    simdjson::padded_string padded(json);
    simdjson::dom::element doc;
    auto err = parser_.parse(padded).get(doc);
    EXPECT_FALSE(err) << json;
    return t->matches(doc);
  }

  // The error message of a trigger that must not parse.
  std::string parseError(std::string_view trigger) {
    auto t = Trigger::parse(trigger);
    EXPECT_FALSE(t.has_value()) << trigger << " parsed but should not";
    return t ? std::string() : t.error().message;
  }

  simdjson::dom::parser parser_;
};

constexpr const char* kTrack =
    R"({"type":"track","event":"Order Completed","userId":"u1","properties":{"value":150,
       "count":"5","coupon":"SAVE","flag":true,"off":false,"zero":0,"empty":"","nil":null,
       "nested":{"deep":{"x":"y"}},"items":[{"id":"a"},{"id":"b"}],"price":9.5},
       "context":{"page":{"url":"https://shop.example.com/p/1"}},"traits":{"vip":true}})";

// --- grammar ------------------------------------------------------------------------------------

TEST_F(FqlTest, EqualsOnEachTopLevelField) {
  EXPECT_TRUE(eval(R"(type = "track")", kTrack));
  EXPECT_FALSE(eval(R"(type = "page")", kTrack));
  EXPECT_TRUE(eval(R"(event = "Order Completed")", kTrack));
  EXPECT_TRUE(eval(R"(userId = "u1")", kTrack));
  EXPECT_TRUE(eval(R"(name = "Pricing")", R"({"type":"page","name":"Pricing"})"));
  EXPECT_TRUE(eval(R"(type="page")", R"({"type":"page"})"));  // no spaces, as in a preset
}

TEST_F(FqlTest, NestedFields) {
  EXPECT_TRUE(eval(R"(properties.coupon = "SAVE")", kTrack));
  EXPECT_TRUE(eval(R"(properties.nested.deep.x = "y")", kTrack));
  EXPECT_TRUE(eval(R"(context.page.url = "https://shop.example.com/p/1")", kTrack));
  EXPECT_TRUE(eval("traits.vip = true", kTrack));
  // Array elements by index (Segment cannot lex a numeric segment; sluice reads it as get() would).
  EXPECT_TRUE(eval(R"(properties.items.1.id = "b")", kTrack));
  // Escaped characters in field names.
  EXPECT_TRUE(eval(R"(properties.first\ name = "Ann")", R"({"properties":{"first name":"Ann"}})"));
}

TEST_F(FqlTest, AllOperatorsOnNumbers) {
  EXPECT_TRUE(eval("properties.value > 100", kTrack));
  EXPECT_FALSE(eval("properties.value > 150", kTrack));
  EXPECT_TRUE(eval("properties.value >= 150", kTrack));
  EXPECT_TRUE(eval("properties.value < 150.5", kTrack));
  EXPECT_FALSE(eval("properties.value < 150", kTrack));
  EXPECT_TRUE(eval("properties.value <= 150", kTrack));
  EXPECT_TRUE(eval("properties.value = 150", kTrack));
  EXPECT_TRUE(eval("properties.value = 150.0", kTrack));
  EXPECT_TRUE(eval("properties.value != 149", kTrack));
  EXPECT_FALSE(eval("properties.value != 150", kTrack));
  EXPECT_TRUE(eval("properties.price > -1", kTrack));
  EXPECT_TRUE(eval("properties.price = +9.5", kTrack));
  // A numeric string literal is converted with Number() for ordering comparisons.
  EXPECT_TRUE(eval(R"(properties.value > "100")", kTrack));
}

TEST_F(FqlTest, NumbersNeedNumbers) {
  // case 097: a numeric string never satisfies a number comparison.
  EXPECT_FALSE(eval("properties.count > 1", kTrack));
  // case 112: `= 5` is a number comparison; "5" is a string.
  EXPECT_FALSE(eval("properties.count = 5", kTrack));
  // != with a number also requires a number: a missing or string value does not match.
  EXPECT_FALSE(eval("properties.count != 4", kTrack));
  EXPECT_FALSE(eval("properties.missing != 4", kTrack));
  // On top-level fields numbers are compared as text (String(5) = "5").
  EXPECT_TRUE(eval("event = 5", R"({"event":"5"})"));
  EXPECT_TRUE(eval("event = 5.0", R"({"event":"5"})"));
  EXPECT_FALSE(eval("event = 5", R"({"event":5})"));
  EXPECT_TRUE(eval("userId = 42", R"({"userId":"42"})"));
}

TEST_F(FqlTest, StringComparisonsAreExact) {
  EXPECT_FALSE(eval(R"(event = "order completed")", kTrack));
  EXPECT_FALSE(eval(R"(event = "Signed Up")", R"({"event":"Signed Up "})"));  // case 105
  EXPECT_TRUE(eval(R"(event != "Signed Up")", R"({"type":"identify"})"));     // case 101
  EXPECT_TRUE(eval(R"(properties.value != "150")", kTrack));  // 150 is not the string "150"
  EXPECT_TRUE(eval(R"(event = "a \"quoted\" \\ word")", R"({"event":"a \"quoted\" \\ word"})"));
  EXPECT_TRUE(eval(R"(event = "Café ☕")", R"({"event":"Café ☕"})"));
}

TEST_F(FqlTest, NullTrueFalse) {
  EXPECT_TRUE(eval("properties.coupon != null", kTrack));  // case 098
  EXPECT_FALSE(eval("properties.coupon = null", kTrack));
  EXPECT_TRUE(eval("properties.missing = null", kTrack));  // case 099
  EXPECT_TRUE(eval("properties.nil = null", kTrack));
  EXPECT_FALSE(eval("properties.nil != null", kTrack));
  EXPECT_TRUE(eval("properties.flag = true", kTrack));
  EXPECT_FALSE(eval("properties.flag = false", kTrack));
  EXPECT_TRUE(eval("properties.off = false", kTrack));
  EXPECT_FALSE(eval("properties.missing = false", kTrack));
  EXPECT_FALSE(eval(R"(properties.flag = true)", R"({"properties":{"flag":"true"}})"));
  // `!= true` is a text comparison in Segment: only the string "true" fails it.
  EXPECT_TRUE(eval("properties.flag != true", kTrack));
  EXPECT_FALSE(eval("properties.flag != true", R"({"properties":{"flag":"true"}})"));
  // `event = null` compares with the text "null" (case 113).
  EXPECT_FALSE(eval("event = null", R"({"type":"identify"})"));
  EXPECT_TRUE(eval("event = null", R"({"event":"null"})"));
  EXPECT_TRUE(eval("event != null", R"({"type":"identify"})"));
  EXPECT_TRUE(eval("type = null", R"({"type":"null"})"));
  // name and userId have existence checks.
  EXPECT_TRUE(eval("name = null", R"({"type":"track"})"));
  EXPECT_TRUE(eval("userId != null", kTrack));
  EXPECT_TRUE(eval("userId = null", R"({"userId":null})"));
  EXPECT_TRUE(eval("userId = true", R"({"userId":true})"));
  EXPECT_FALSE(eval("name = true", R"({"name":true})"));  // text "true" for name
  EXPECT_TRUE(eval("name = true", R"({"name":"true"})"));
}

TEST_F(FqlTest, FalsyIntermediateValuesAreTheResult) {
  // Segment's get() stops at a falsy value and returns it: `a.b` of `a: false` is false.
  EXPECT_TRUE(eval("properties.off.anything = false", kTrack));
  EXPECT_FALSE(eval("properties.zero.anything = null", kTrack));  // 0, which exists
  EXPECT_TRUE(eval("properties.nil.anything = null", kTrack));
  EXPECT_TRUE(eval("properties.value.anything = null", kTrack));  // 150 has no members
  EXPECT_TRUE(eval("properties.x = null", R"({"properties":null})"));
  EXPECT_TRUE(eval("properties.x = null", R"({"type":"track"})"));
  EXPECT_FALSE(eval("properties.x != null", R"({"properties":"text"})"));
}

TEST_F(FqlTest, ContainsAndNegation) {
  EXPECT_TRUE(eval(R"(contains(event, "Order"))", kTrack));    // case 093
  EXPECT_FALSE(eval(R"(!contains(event, "Order"))", kTrack));  // case 094
  EXPECT_TRUE(eval(R"(!contains(event, "Refund"))", kTrack));
  EXPECT_TRUE(eval(R"(contains(properties.coupon, "AV"))", kTrack));
  EXPECT_TRUE(eval(R"(contains(context.page.url, "/p/"))", kTrack));
  EXPECT_TRUE(eval(R"(contains(name, ""))", R"({"name":"x"})"));
  // Neither contains() nor its negation holds for a value that is not a string.
  EXPECT_FALSE(eval(R"(contains(properties.value, "1"))", kTrack));
  EXPECT_FALSE(eval(R"(!contains(properties.value, "1"))", kTrack));
  EXPECT_FALSE(eval(R"(!contains(properties.missing, "1"))", kTrack));
  EXPECT_TRUE(eval(R"(contains( userId , "u" ))", kTrack));
}

TEST_F(FqlTest, MatchPrefixAndSuffix) {
  EXPECT_TRUE(eval(R"(match(event, "Order*"))", kTrack));      // case 095
  EXPECT_TRUE(eval(R"(match(event, "*Completed"))", kTrack));  // case 103
  EXPECT_FALSE(eval(R"(match(event, "*Order"))", kTrack));
  EXPECT_FALSE(eval(R"(!match(event, "Order*"))", kTrack));
  EXPECT_TRUE(eval(R"(!match(event, "Refund*"))", kTrack));
  EXPECT_TRUE(eval(R"(match(event, "*"))", kTrack));
  EXPECT_FALSE(eval(R"(match(event, "*"))", R"({"type":"identify"})"));
  EXPECT_FALSE(eval(R"(!match(event, "x*"))", R"({"type":"identify"})"));
}

TEST_F(FqlTest, AndBindsTighterThanOr) {
  // case 102 (D9): type = "track" or (event = "A" and event = "B").
  EXPECT_TRUE(eval(R"(type = "track" or event = "A" and event = "B")", R"({"type":"track"})"));
  EXPECT_FALSE(eval(R"(type = "page" or event = "A" and event = "B")", R"({"event":"A"})"));
  EXPECT_TRUE(eval(R"(event = "A" and type = "track" or event = "B")", R"({"event":"B"})"));
  EXPECT_TRUE(eval(R"(event = "A" or event = "B" or event = "C")", R"({"event":"C"})"));
  EXPECT_FALSE(
      eval(R"(event = "A" and event = "B" and type = "track")", R"({"event":"A","type":"track"})"));
}

TEST_F(FqlTest, Parentheses) {
  EXPECT_TRUE(eval(R"(type = "track" and (event = "A" or event = "B"))",
                   R"({"type":"track","event":"B"})"));  // case 106
  EXPECT_FALSE(eval(R"((type = "track" or event = "A") and event = "B")",
                    R"({"type":"track","event":"C"})"));
  EXPECT_TRUE(eval(R"(((event = "A")))", R"({"event":"A"})"));
  EXPECT_TRUE(eval(R"((event = "A" or (event = "B" and (type = "t" or type = "u"))))",
                   R"({"event":"B","type":"u"})"));
  EXPECT_TRUE(eval(R"(!contains(event, "x") and (contains(event, "A")))", R"({"event":"A"})"));
}

TEST_F(FqlTest, KeywordsNeedWordBoundaries) {
  // Fields whose names start like keywords.
  EXPECT_TRUE(eval(R"(properties.android = "y")", R"({"properties":{"android":"y"}})"));
  EXPECT_TRUE(eval(R"(properties.order = 1 or properties.nullable = 2)",
                   R"({"properties":{"nullable":2}})"));
}

// --- errors -------------------------------------------------------------------------------------

TEST_F(FqlTest, ErrorsCarryTheColumn) {
  EXPECT_EQ(parseError("event = "),
            "column 9: expected a value: a \"string\", a number, true, "
            "false or null");  // case 109
  EXPECT_EQ(parseError("event = 'Signed Up'"),
            "column 9: single-quoted strings are not supported; use double quotes");  // case 100
  EXPECT_EQ(parseError(R"(anonymousId = "anon-42")").substr(0, 40),
            "column 1: unsupported field 'anonymousId");  // case 111
  EXPECT_EQ(parseError(R"(type = "track" and anonymousId = "x")").substr(0, 20),
            "column 20: unsupport");  // case 110
  EXPECT_EQ(parseError(""), "column 1: empty trigger");
  EXPECT_EQ(parseError("   "), "column 4: empty trigger");
  EXPECT_EQ(parseError(R"(event = "x)"), "column 9: unterminated string");
  EXPECT_EQ(parseError(R"(event "x")"), "column 7: expected an operator (=, !=, <, <=, >, >=)");
  EXPECT_EQ(parseError(R"(event = "a" event = "b")"),
            "column 13: expected 'and', 'or' or the end of the trigger");
  EXPECT_EQ(parseError(R"((event = "a")"), "column 1: unclosed '('");
  EXPECT_EQ(parseError(R"x(event = "a"))x"), "column 12: unmatched ')'");
  EXPECT_EQ(parseError(R"(event = "a" and)"), "column 16: expected a condition at the end");
  EXPECT_EQ(parseError(R"(event = "a" or or)"), "column 16: expected a condition");
  EXPECT_EQ(parseError("()"), "column 2: empty parentheses");
  EXPECT_EQ(parseError(R"(!(event = "a"))"), "column 1: '!' may only precede contains( or match(");
  EXPECT_EQ(parseError(R"(!event = "a")"), "column 1: '!' may only precede contains( or match(");
  EXPECT_EQ(parseError(R"(event = "a\n")"),
            "column 11: unknown escape in string; only \\\" and \\\\ are allowed");
  EXPECT_EQ(parseError("event = foo"),
            "column 9: expected a value: a \"string\", a number, true, false or null");
  EXPECT_EQ(parseError(R"(event = "é" and x = 1)"),
            "column 17: unsupported field 'x'; use type, "
            "event, name, userId, properties.*, traits.* "
            "or context.*");
  EXPECT_EQ(parseError("properties.value > 1.5.2"), "column 20: malformed number");
  EXPECT_EQ(parseError("properties.value > 1."),
            "column 20: expected digits after the decimal point");
  EXPECT_EQ(parseError("properties.value > -"), "column 20: expected a number");
  EXPECT_EQ(parseError("properties.value > true"), "column 20: this comparison needs a number");
  EXPECT_EQ(parseError(R"(properties.value > "abc")"), "column 20: this comparison needs a number");
  EXPECT_EQ(parseError("properties = 1"),
            "column 1: 'properties' needs a property, as in properties.name");
  EXPECT_EQ(parseError(R"(event.x = "a")"),
            "column 1: unsupported field 'event.x'; use type, "
            "event, name, userId, properties.*, traits.* or "
            "context.*");
  EXPECT_EQ(parseError(R"(properties. = "a")"), "column 12: expected a field name after '.'");
  EXPECT_EQ(parseError(R"(event = "a" # x)"), "column 13: unexpected character '#'");
  EXPECT_EQ(parseError(R"(event AND)"), "column 7: expected an operator (=, !=, <, <=, >, >=)");
}

TEST_F(FqlTest, FunctionErrors) {
  EXPECT_EQ(parseError(R"(contains(type, "x"))").substr(0, 35),
            "column 10: unsupported field 'type'");
  EXPECT_EQ(parseError(R"(contains(event "x"))"), "column 16: expected ','");
  EXPECT_EQ(parseError(R"(contains(event, 5))"),
            "column 17: contains() expects a double-quoted string second");
  EXPECT_EQ(parseError(R"(contains("x", event))"), "column 10: contains() expects a field first");
  EXPECT_EQ(parseError(R"x(contains(event, "x")x"), "column 20: expected ')'");
  EXPECT_EQ(parseError(R"(match(event, "a*b"))"),
            "column 14: match() supports \"prefix*\" or \"*suffix\" patterns with one '*'");
  EXPECT_EQ(parseError(R"(match(event, "abc"))").substr(0, 30), "column 14: match() supports \"p");
  EXPECT_EQ(parseError(R"(match(event, "*a*"))").substr(0, 30), "column 14: match() supports \"p");
  EXPECT_EQ(parseError(R"(match(event, ""))").substr(0, 30), "column 14: match() supports \"p");
}

TEST_F(FqlTest, DeepNestingIsBounded) {
  std::string deep(1000, '(');
  EXPECT_EQ(parseError(deep).substr(0, 15), "column 201: too");
  std::string ok = std::string(50, '(') + R"(event = "A")" + std::string(50, ')');
  EXPECT_TRUE(eval(ok, R"({"event":"A"})"));
}

TEST_F(FqlTest, TextIsKeptAndTriggersMove) {
  auto t = Trigger::parse(R"(event = "A")");
  ASSERT_TRUE(t);
  Trigger moved = std::move(*t);
  EXPECT_EQ(moved.text(), R"(event = "A")");
  simdjson::dom::parser p;
  simdjson::padded_string s(std::string(R"({"event":"A"})"));
  EXPECT_TRUE(moved.matches(p.parse(s).value()));
}

// One TriggerEvent serves many triggers; a repeated key is read at its first occurrence (as a
// lookup would find it) and an event that is not an object has none of the fields.
TEST_F(FqlTest, OneTriggerEventServesManyTriggers) {
  simdjson::dom::parser p;
  simdjson::padded_string s(std::string(
      R"({"event":"A","properties":{"n":1},"event":"B","type":"track","properties":{"n":2}})"));
  const TriggerEvent fields(p.parse(s).value());
  auto matches = [&](std::string_view text) {
    return Trigger::parse(text).value().matches(fields);
  };
  EXPECT_TRUE(matches(R"(event = "A")"));
  EXPECT_FALSE(matches(R"(event = "B")"));
  EXPECT_TRUE(matches(R"(properties.n = 1)"));
  EXPECT_TRUE(matches(R"(type = "track" and properties.n < 2)"));
  EXPECT_TRUE(matches(R"(userId = null)"));
  EXPECT_TRUE(matches(R"(context.x != "y")"));

  simdjson::padded_string array(std::string(R"([{"event":"A"}])"));
  const TriggerEvent none(p.parse(array).value());
  EXPECT_FALSE(Trigger::parse(R"(event = "A")").value().matches(none));
  EXPECT_TRUE(Trigger::parse(R"(event != "A")").value().matches(none));
}

// --- JavaScript numbers
// ---------------------------------------------------------------------------

TEST(JsNumberTest, ToStringMatchesJavaScript) {
  EXPECT_EQ(jsNumberToString(0), "0");
  EXPECT_EQ(jsNumberToString(-0.0), "0");
  EXPECT_EQ(jsNumberToString(5), "5");
  EXPECT_EQ(jsNumberToString(-5), "-5");
  EXPECT_EQ(jsNumberToString(1.5), "1.5");
  EXPECT_EQ(jsNumberToString(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(jsNumberToString(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(jsNumberToString(1e21), "1e+21");
  EXPECT_EQ(jsNumberToString(1.5e21), "1.5e+21");
  EXPECT_EQ(jsNumberToString(0.000001), "0.000001");
  EXPECT_EQ(jsNumberToString(1e-7), "1e-7");
  EXPECT_EQ(jsNumberToString(-2.5e-8), "-2.5e-8");
  EXPECT_EQ(jsNumberToString(1e15), "1000000000000000");
  EXPECT_EQ(jsNumberToString(9007199254740993.0), "9007199254740992");
  EXPECT_EQ(jsNumberToString(12.34), "12.34");
  EXPECT_EQ(jsNumberToString(std::nan("")), "NaN");
  EXPECT_EQ(jsNumberToString(-1.0 / 0.0), "-Infinity");
}

// Values with up to 3 decimals below 1e9 take a shorter way to their digits than other values;
// both must give the shortest round-trip digits, which std::to_chars' fixed form (shortest that
// reads back) spells the same way in this range. Their neighbours one ulp away, and values just
// outside the range, take the general way.
TEST(JsNumberTest, ShortDecimalsGiveTheShortestDigits) {
  auto shortest = [](double v) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    return std::string(buf, res.ptr);
  };
  EXPECT_EQ(jsNumberToString(19.99), "19.99");
  EXPECT_EQ(jsNumberToString(0.05), "0.05");
  EXPECT_EQ(jsNumberToString(0.001), "0.001");
  EXPECT_EQ(jsNumberToString(-114.98), "-114.98");
  EXPECT_EQ(jsNumberToString(999999999.999), "999999999.999");
  EXPECT_EQ(jsNumberToString(1e9 + 0.5), "1000000000.5");
  EXPECT_EQ(jsNumberToString(0.0005), "0.0005");
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 11;
  };
  const double scales[] = {10, 100, 1000};
  for (int i = 0; i < 300000; ++i) {
    const double scale = scales[i % 3];
    // Mostly prices (up to 100,000.00), some up to the range's end.
    const uint64_t limit = i % 10 == 0 ? 999999999999ULL : 100000000ULL;
    const double v = static_cast<double>(next() % limit + 1) / scale;
    ASSERT_EQ(jsNumberToString(v), shortest(v)) << v;
    const double up = std::nextafter(v, 2e9), down = std::nextafter(v, 0.0);
    ASSERT_EQ(jsNumberToString(up), shortest(up)) << up;
    ASSERT_EQ(jsNumberToString(down), shortest(down)) << down;
    ASSERT_EQ(jsNumberToString(-v), "-" + shortest(v)) << v;
  }
  for (int i = 0; i < 100000; ++i) {  // any double in [0.001, 1e9)
    const double v = 0.001 + static_cast<double>(next()) / static_cast<double>(1ULL << 53) * 1e9;
    ASSERT_EQ(jsNumberToString(v), shortest(v)) << v;
  }
}

TEST(JsNumberTest, FromStringMatchesJavaScript) {
  EXPECT_EQ(jsStringToNumber(""), 0);
  EXPECT_EQ(jsStringToNumber("  12 "), 12);
  EXPECT_EQ(jsStringToNumber("-1.5e2"), -150);
  EXPECT_EQ(jsStringToNumber("+.5"), 0.5);
  EXPECT_EQ(jsStringToNumber("5."), 5);
  EXPECT_EQ(jsStringToNumber("0x1F"), 31);
  EXPECT_EQ(jsStringToNumber("0b101"), 5);
  EXPECT_EQ(jsStringToNumber("-Infinity"), -1.0 / 0.0);
  EXPECT_TRUE(std::isnan(jsStringToNumber("abc")));
  EXPECT_TRUE(std::isnan(jsStringToNumber("inf")));
  EXPECT_TRUE(std::isnan(jsStringToNumber("1e")));
  EXPECT_TRUE(std::isnan(jsStringToNumber("-0x10")));
  EXPECT_TRUE(std::isnan(jsStringToNumber("1,5")));
  EXPECT_EQ(jsStringToNumber("1e400"), 1.0 / 0.0);
  EXPECT_EQ(jsStringToNumber("1e-400"), 0);
}

// --- golden cases
// ---------------------------------------------------------------------------------

// Every golden case with a custom trigger: Segment's verdict, except where D9 applies.
TEST(FqlGoldenTest, CustomTriggersAgreeWithSegment) {
  auto dir = sluice::testing::referenceDir() / "segment-golden";
  ASSERT_TRUE(std::filesystem::exists(dir)) << "no golden cases at " << dir;
  simdjson::dom::parser parser;
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    simdjson::dom::element doc;
    ASSERT_FALSE(parser.load(entry.path().string()).get(doc)) << name;
    simdjson::dom::element c = doc["case"].value();
    std::string_view subscribe;
    if (c["subscribe"].get_string().get(subscribe)) continue;
    bool expected = doc["expected"]["matched"].get_bool().value();
    auto trigger = Trigger::parse(subscribe);
    std::string id = name.substr(0, 3);
    if (id == "100" || id == "109" || id == "110" || id == "111") {
      EXPECT_FALSE(trigger.has_value()) << name << ": D9 rejects this trigger";
      ++checked;
      continue;
    }
    ASSERT_TRUE(trigger.has_value()) << name << ": " << trigger.error().message;
    bool got = trigger->matches(c["event"].value());
    if (id == "102") {
      EXPECT_TRUE(got) << name << ": D9 gives 'and' precedence";
    } else {
      EXPECT_EQ(got, expected) << name << " trigger " << subscribe;
    }
    ++checked;
  }
  EXPECT_GE(checked, 24);
}

// Segment's preset triggers all parse and match their own events.
TEST(FqlGoldenTest, PresetTriggersParse) {
  auto file = sluice::testing::referenceDir() / "segment-reportWebEvent.json";
  ASSERT_TRUE(std::filesystem::exists(file)) << file;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.load(file.string()).value();
  int n = 0;
  simdjson::dom::array presets;
  ASSERT_FALSE(doc["presets"].get_array().get(presets));
  for (simdjson::dom::element preset : presets) {
    std::string_view subscribe = preset["subscribe"].get_string().value();
    auto t = Trigger::parse(subscribe);
    ASSERT_TRUE(t.has_value()) << subscribe;
    ++n;
  }
  EXPECT_EQ(n, 15);
}

}  // namespace
}  // namespace sluice::mapping
