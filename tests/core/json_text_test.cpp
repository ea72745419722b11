// appendJsonString() and findJsonEscape(): strings escaped as JavaScript's JSON.stringify escapes
// them, whatever the position of the bytes to escape relative to the 8- and 16-byte scans.
#include "core/json_text.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace sluice {
namespace {

TEST(JsonText, StringsEscapedAsJsonStringify) {
  std::string out;
  appendJsonString(out, "a\"b\\c\n\t\x01 é \u2028");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001 é \u2028\"");
}

// Strings are scanned for bytes to escape 8 or 16 at a time: a byte to escape (or more) at every
// position of strings from 0 to 40 bytes, with bytes above 0x7F around it, is escaped as the
// byte-by-byte rule says.
TEST(JsonText, EscapesFoundAtEveryPosition) {
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
  const char special[] = {'"', '\\', '\n', '\x01', '\x1f', '\x0b', '\0'};
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

TEST(JsonText, ContentIsTheStringWithoutItsQuotes) {
  std::string out = "x";
  appendJsonStringContent(out, "a\bb\fc\x7f\x1e");
  EXPECT_EQ(out, "xa\\bb\\fc\x7f\\u001e");  // DEL is not escaped, as JSON.stringify
}

TEST(JsonText, FindJsonEscapeFromAnyStart) {
  const std::string text = "0123456789abcdef0123\"5";
  EXPECT_EQ(findJsonEscape(text, 0), 20u);
  EXPECT_EQ(findJsonEscape(text, 20), 20u);
  EXPECT_EQ(findJsonEscape(text, 21), text.size());
  EXPECT_EQ(findJsonEscape(text, text.size()), text.size());
  EXPECT_EQ(findJsonEscape(text, text.size() + 5), text.size());
  EXPECT_EQ(findJsonEscape("", 0), 0u);
  for (size_t n = 1; n <= 40; ++n) {
    for (size_t at = 0; at < n; ++at) {
      std::string s(n, 'y');
      s[at] = '\x01';
      for (size_t from = 0; from <= n; ++from) {
        EXPECT_EQ(findJsonEscape(s, from), from <= at ? at : n) << n << " " << at << " " << from;
      }
    }
  }
}

}  // namespace
}  // namespace sluice
