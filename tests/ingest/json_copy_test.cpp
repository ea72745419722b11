#include "ingest/json_copy.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace sluice::ingest {
namespace {

constexpr size_t kDepth = 64;

// The DOM writer's output for `text` (which simdjson must accept), or "<too deep>".
std::string domCompact(std::string_view text, size_t depth = 1) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(text.data(), text.size()).get(root), simdjson::SUCCESS) << text;
  std::string out;
  if (!appendDomValue(out, root, depth, kDepth)) return "<too deep>";
  return out;
}

// The source copier's output for `text`, "<too deep>" or "<fallback>"; checks it reads to the end.
std::string sourceCompact(std::string_view text, size_t depth = 1) {
  JsonSource source(text);
  std::string out;
  size_t pos = 0;
  switch (source.copyValue(out, pos, depth, kDepth)) {
    case JsonSource::Copy::kTooDeep:
      return "<too deep>";
    case JsonSource::Copy::kFallback:
      return "<fallback>";
    case JsonSource::Copy::kOk:
      break;
  }
  size_t skipped = 0;
  EXPECT_TRUE(source.skipValue(skipped)) << text;
  EXPECT_EQ(pos, skipped) << text;
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n')) ++pos;
  EXPECT_EQ(pos, text.size()) << text;
  return out;
}

TEST(JsonCopyTest, SameBytesAsTheDomWriter) {
  const std::vector<std::string> cases = {
      R"({"a":1,"b":"x"})",
      " {\n  \"a\" : [ 1 , 2 ,\t3 ] ,\r\n \"b\" : { } , \"c\" : [ ] }\n",
      R"("tab\there \/ \"q\" \\ \b\f\n\r\t")",
      R"("\u00e9t\u00E9 \ud83d\ude00 \uD834\uDD1E \u0022\u005c\u002f \u0020")",
      R"("\u0000\u0001\u001F\u001f\u007f \u000a\u0009\u0008\u000c\u000d")",
      "\"é ü 日本 😀\"",
      R"({"k\u00e9y":"v","q\"k":1,"a b":[true,false,null]})",
      R"([0,-0,-0.0,1.0,1e5,1E+5,1e-7,0.0001,0.001,0.01,123.456e3,2.5e+3,-12.50])",
      R"([18446744073709551615,-9223372036854775808,9223372036854775807,9223372036854775808])",
      R"([1.7976931348623157e308,5e-324,2.2250738585072014e-308,0.1,1e21,1e22,1e-400])",
      R"([123456789012345678,0.30000000000000004,12345678901234567.5,3.14159265358979323846])",
      R"([129.95,79.95,-1.5E-3,100.0,1E0,0e0,-0e-0])",
      // Decimals written as sent when to_chars gives the same text, and around that rule's edges.
      R"([0.1,-0.5,1.5,100.25,0.001,0.0012,0.00012,0.0001,12345678901234.5,123456789012345.5])",
      R"([0.000000000000001,0.1000000000000001,9007199254740993.5,999999999999999.9,1.10])",
      R"({"a":{"b":{"c":[{"d":[[[]]]}]}}})",
      R"("")",
      R"(true)",
      R"(-0)",
      R"(12.5)",
  };
  for (const auto& text : cases) {
    const std::string copied = sourceCompact(text);
    if (copied == "<fallback>") continue;  // left to the DOM writer (1e-400 underflows)
    EXPECT_EQ(copied, domCompact(text)) << text;
  }
  // Only forms the copier cannot rewrite itself fall back.
  EXPECT_EQ(sourceCompact("[1e-400]"), "<fallback>");
  EXPECT_EQ(sourceCompact(R"(["\u00e9",1.5,-0,{"a":1e2}])"), R"(["é",1.5,0,{"a":100}])");
}

TEST(JsonCopyTest, DepthLimitAsTheDomWriter) {
  for (size_t levels : {62u, 63u, 64u, 65u}) {
    std::string text(levels, '[');
    text.append(levels, ']');
    EXPECT_EQ(sourceCompact(text, 1), domCompact(text, 1)) << levels;
    EXPECT_EQ(sourceCompact(text, 2), domCompact(text, 2)) << levels;
  }
  EXPECT_EQ(sourceCompact(std::string(64, '[') + std::string(64, ']')),
            std::string(64, '[') + std::string(64, ']'));
  EXPECT_EQ(sourceCompact(std::string(65, '[') + std::string(65, ']')), "<too deep>");
}

// Random values with random whitespace, escapes, unicode and numbers in every form JSON allows.
class RandomJson {
 public:
  explicit RandomJson(uint32_t seed) : random_(seed) {}

  std::string value(int depth = 0) {
    const int kind = pick(depth > 4 ? 3 : 6);
    switch (kind) {
      case 0:
        return number();
      case 1:
        return string();
      case 2:
        return std::vector<std::string>{"true", "false", "null"}[pick(3)];
      case 3:
        return number();
      case 4: {
        std::string out = "[" + space();
        const int count = pick(4);
        for (int i = 0; i < count; ++i)
          out += (i ? "," + space() : "") + value(depth + 1) + space();
        return out + "]";
      }
      default: {
        std::string out = "{" + space();
        const int count = pick(4);
        for (int i = 0; i < count; ++i) {
          out += (i ? "," + space() : "") + string() + space() + ":" + space() + value(depth + 1);
        }
        return out + space() + "}";
      }
    }
  }

 private:
  int pick(int n) { return static_cast<int>(random_() % static_cast<uint32_t>(n)); }

  std::string space() {
    static const std::vector<std::string> kSpaces = {"", "", "", " ", "\n  ", "\t", " \r\n"};
    return kSpaces[pick(static_cast<int>(kSpaces.size()))];
  }

  std::string digits(int count, bool leadingZeroAllowed) {
    std::string out;
    for (int i = 0; i < count; ++i) {
      out.push_back(
          static_cast<char>('0' + (i == 0 && !leadingZeroAllowed ? 1 + pick(9) : pick(10))));
    }
    return out;
  }

  std::string number() {
    std::string out = pick(3) == 0 ? "-" : "";
    out += pick(4) == 0 ? "0" : digits(1 + pick(15), false);
    if (pick(2) == 0) out += "." + digits(1 + pick(17), true);
    if (pick(3) == 0) {
      out += std::vector<std::string>{"e", "E", "e+", "e-", "E-"}[pick(5)];
      out += std::to_string(pick(40));
    }
    return out;
  }

  std::string string() {
    static const std::vector<std::string> kPieces = {"a",
                                                     "xyz",
                                                     "\\\"",
                                                     "\\\\",
                                                     "\\/",
                                                     "\\b",
                                                     "\\f",
                                                     "\\n",
                                                     "\\r",
                                                     "\\t",
                                                     "\\u0000",
                                                     "\\u001F",
                                                     "\\u001f",
                                                     "\\u007f",
                                                     "\\u00e9",
                                                     "\\u00E9",
                                                     "\\u20ac",
                                                     "\\ud83d\\ude00",
                                                     "\\uD834\\uDD1E",
                                                     "\\u0022",
                                                     "\\u005c",
                                                     "\\u002F",
                                                     "é",
                                                     "日本",
                                                     "😀",
                                                     " ",
                                                     "0123456789abcdef"};
    std::string out = "\"";
    const int count = pick(6);
    for (int i = 0; i < count; ++i) out += kPieces[pick(static_cast<int>(kPieces.size()))];
    return out + "\"";
  }

  std::mt19937 random_;
};

TEST(JsonCopyTest, RandomValuesGiveTheDomWritersBytes) {
  RandomJson generator(20261201);
  int copied = 0;
  for (int i = 0; i < 5000; ++i) {
    const std::string text = generator.value();
    const std::string fromSource = sourceCompact(text);
    if (fromSource == "<fallback>") continue;
    ++copied;
    ASSERT_EQ(fromSource, domCompact(text)) << text;
  }
  EXPECT_GT(copied, 4900);  // underflowing exponents are the only fallback
}

TEST(JsonCopyTest, WalksMembersAndElements) {
  const std::string text = R"( { "a" : [ 1, {"x":2} ] , "b\"c":"d" , "e":{} } )";
  JsonSource source(text);
  size_t pos = 0;
  std::string_view key;
  ASSERT_EQ(source.nextMember(pos, true, key), JsonSource::Step::kItem);
  EXPECT_EQ(key, "a");
  size_t element = pos;
  ASSERT_EQ(source.nextElement(element, true), JsonSource::Step::kItem);
  std::string out;
  ASSERT_EQ(source.copyValue(out, element, 3, kDepth), JsonSource::Copy::kOk);
  ASSERT_EQ(source.nextElement(element, false), JsonSource::Step::kItem);
  ASSERT_EQ(source.copyValue(out, element, 3, kDepth), JsonSource::Copy::kOk);
  EXPECT_EQ(out, R"(1{"x":2})");
  EXPECT_EQ(source.nextElement(element, false), JsonSource::Step::kEnd);
  ASSERT_TRUE(source.skipValue(pos));
  EXPECT_EQ(pos, element);
  ASSERT_EQ(source.nextMember(pos, false, key), JsonSource::Step::kItem);
  EXPECT_EQ(key, R"(b\"c)");  // as written
  ASSERT_TRUE(source.skipValue(pos));
  ASSERT_EQ(source.nextMember(pos, false, key), JsonSource::Step::kItem);
  EXPECT_EQ(key, "e");
  size_t inner = pos;
  EXPECT_EQ(source.nextMember(inner, true, key), JsonSource::Step::kEnd);
  ASSERT_TRUE(source.skipValue(pos));
  EXPECT_EQ(pos, inner);
  EXPECT_EQ(source.nextMember(pos, false, key), JsonSource::Step::kEnd);
  EXPECT_EQ(text.substr(pos), " ");
}

// The copier trusts that simdjson validated the text; on text it does not expect it fails (or
// copies what is there) without reading past the end.
TEST(JsonCopyTest, UnexpectedTextFailsWithoutReadingPastTheEnd) {
  for (std::string_view text : {"", "{", "{\"a\":", "[1,", "\"abc", "\"ab\\", "tru", "]",
                                "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\x\"", ","}) {
    JsonSource source(text);
    std::string out;
    size_t pos = 0;
    EXPECT_NE(source.copyValue(out, pos, 1, kDepth), JsonSource::Copy::kOk) << text;
    EXPECT_EQ(pos, 0u);
  }
  for (std::string_view text : {"", "{", "{\"a\"", "{\"a\" 1}", "[1]", "{1:2}", "{\"a"}) {
    JsonSource source(text);
    std::string_view key;
    size_t pos = 0;
    EXPECT_EQ(source.nextMember(pos, true, key), JsonSource::Step::kBad) << text;
  }
  for (std::string_view text : {"", "[", "{}", "[1"}) {
    JsonSource source(text);
    size_t pos = 0;
    if (text == "[1") {
      ASSERT_EQ(source.nextElement(pos, true), JsonSource::Step::kItem);
      ASSERT_TRUE(source.skipValue(pos));
      EXPECT_EQ(source.nextElement(pos, false), JsonSource::Step::kBad);
    } else {
      EXPECT_EQ(source.nextElement(pos, true), JsonSource::Step::kBad) << text;
    }
  }
}

}  // namespace
}  // namespace sluice::ingest
