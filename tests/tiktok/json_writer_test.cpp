#include "tiktok/json_writer.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sluice::tiktok {
namespace {

std::string number(double v) {
  std::string out;
  appendJsNumber(out, v);
  return out;
}

TEST(JsonWriter, NumbersAsJavaScriptPrintsThem) {
  EXPECT_EQ(number(49.99), "49.99");
  EXPECT_EQ(number(2), "2");
  EXPECT_EQ(number(-0.0), "0");
  EXPECT_EQ(number(1e21), "1e+21");
  EXPECT_EQ(number(1e20), "100000000000000000000");
  EXPECT_EQ(number(123456789.12345679), "123456789.12345679");
  EXPECT_EQ(number(0.000001), "0.000001");
  EXPECT_EQ(number(1e-7), "1e-7");
  EXPECT_EQ(number(std::nan("")), "null");
  EXPECT_EQ(number(std::numeric_limits<double>::infinity()), "null");
}

TEST(JsonWriter, StringsEscapedAsJsonStringify) {
  std::string out;
  appendJsonString(out, "a\"b\\c\n\t\x01 é \u2028");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001 é \u2028\"");
}

// Strings are scanned for bytes to escape 8 or 16 at a time: a byte to escape (or more) at every
// position of strings from 0 to 40 bytes, with bytes above 0x7F around it, is escaped as the
// byte-by-byte rule says.
TEST(JsonWriter, EscapesFoundAtEveryPosition) {
  auto reference = [](std::string_view text) {
    std::string out = "\"";
    for (unsigned char c : text) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        static const char* kShort[] = {"b", "t", "n", nullptr, "f", "r"};
        const char* shortForm = c >= 8 && c <= 13 ? kShort[c - 8] : nullptr;
        char buf[8];
        std::snprintf(buf, sizeof buf, "u%04x", c);
        out += '\\';
        out += shortForm ? shortForm : buf;
      } else {
        out += static_cast<char>(c);
      }
    }
    return out + "\"";
  };
  const char special[] = {'"', '\\', '\n', '\x01', '\x1f', '\x0b'};
  for (size_t n = 0; n <= 40; ++n) {
    std::string base(n, 'x');
    for (size_t i = 0; i < n; ++i) base[i] = i % 3 == 0 ? '\xc3' : (i % 3 == 1 ? '\xa9' : ' ');
    std::string plain;
    appendJsonString(plain, base);
    ASSERT_EQ(plain, reference(base)) << n;
    for (size_t at = 0; at < n; ++at) {
      for (char c : special) {
        std::string text = base;
        text[at] = c;
        if (at + 17 < n) text[at + 17] = '"';
        if (at + 3 < n && n % 2 == 1) text[at + 3] = '\x1f';
        std::string out = "prefix";
        appendJsonString(out, text);
        ASSERT_EQ(out, "prefix" + reference(text)) << n << " " << at << " " << int(c);
      }
    }
  }
}

TEST(JsonWriter, ValuesRoundTrip) {
  std::string text = R"({"a":[1,2.5,"x",true,null,{"b":-3}],"big":12345678901234567000})";
  std::string out;
  appendJsonValue(out, boost::json::parse(text));
  EXPECT_EQ(out, R"({"a":[1,2.5,"x",true,null,{"b":-3}],"big":12345678901234567000})");
}

}  // namespace
}  // namespace sluice::tiktok
