#include "core/time.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace sluice {
namespace {

TEST(ParseIsoTime, AcceptsUtcWithMillis) {
  EXPECT_EQ(parseIsoTime("2024-03-15T10:20:30.456Z"), 1710498030456);
}

TEST(ParseIsoTime, AppliesOffsets) {
  EXPECT_EQ(parseIsoTime("2024-03-15T12:20:30+02:00"), 1710498030000);
  EXPECT_EQ(parseIsoTime("2024-03-15T05:20:30-0500"), 1710498030000);
}

TEST(ParseIsoTime, AcceptsDateOnlyAndLongFractions) {
  EXPECT_EQ(parseIsoTime("1970-01-02"), 86'400'000);
  EXPECT_EQ(parseIsoTime("2024-03-15T10:20:30.456789Z"), 1710498030456);
  EXPECT_EQ(parseIsoTime("2024-03-15T10:20Z"), 1710498000000);
}

TEST(ParseIsoTime, RejectsGarbage) {
  for (const char* bad : {"", "yesterday", "2024-13-01", "2024-02-30T00:00:00Z", "2024-03-15T25:00Z",
                          "2024-03-15T10:20:30.Z", "2024-03-15T10:20:30Zjunk", "1710498030"}) {
    EXPECT_FALSE(parseIsoTime(bad).has_value()) << bad;
  }
}

TEST(FormatIsoTime, RoundTrips) {
  for (EpochMs ms : {0LL, 1710498030456LL, 951782400000LL /* 2000-02-29 */, -1000LL}) {
    EXPECT_EQ(parseIsoTime(formatIsoTime(ms)), ms) << formatIsoTime(ms);
  }
  EXPECT_EQ(formatIsoTime(1710498030456), "2024-03-15T10:20:30.456Z");
}

TEST(FormatIsoTime, SameTextAsPrintfForEveryYear) {
  // Years 0-9999 are written digit by digit; the others (and all of them before) by snprintf.
  auto timeOfDay = [](EpochMs ms) {
    int64_t days = ms >= 0 ? ms / 86'400'000 : -((-ms + 86'399'999) / 86'400'000);
    int64_t rem = ms - days * 86'400'000;
    // The date part is checked by the round trip below.
    char buf[32];
    std::snprintf(buf, sizeof buf, "T%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(rem / 3'600'000), static_cast<long long>(rem / 60'000 % 60),
                  static_cast<long long>(rem / 1000 % 60), static_cast<long long>(rem % 1000));
    return std::string(buf);
  };
  constexpr EpochMs kYear0 = -62'167'219'200'000;     // 0000-01-01T00:00:00.000Z
  constexpr EpochMs kYear10000 = 253'402'300'800'000;  // 10000-01-01T00:00:00.000Z
  EXPECT_EQ(formatIsoTime(kYear0), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(formatIsoTime(kYear10000 - 1), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(formatIsoTime(kYear10000), "10000-01-01T00:00:00.000Z");
  EXPECT_EQ(formatIsoTime(kYear0 - 1), "-001-12-31T23:59:59.999Z");
  EXPECT_EQ(formatIsoTime(-1), "1969-12-31T23:59:59.999Z");
  for (EpochMs ms = kYear0; ms < kYear10000; ms += 86'400'000LL * 366 + 3'723'456) {
    const std::string text = formatIsoTime(ms);
    ASSERT_EQ(text.size(), 24u) << ms;
    EXPECT_EQ(text.substr(10), timeOfDay(ms)) << text;
    EXPECT_EQ(parseIsoTime(text), ms) << text;
  }
}

TEST(ParseDuration, UnitsAndCompounds) {
  EXPECT_EQ(parseDurationMs("7d"), 7 * 86'400'000LL);
  EXPECT_EQ(parseDurationMs("250ms"), 250);
  EXPECT_EQ(parseDurationMs("1h30m"), 5'400'000);
  EXPECT_EQ(parseDurationMs("1.5s"), 1500);
  EXPECT_FALSE(parseDurationMs("7").has_value());
  EXPECT_FALSE(parseDurationMs("d").has_value());
  EXPECT_FALSE(parseDurationMs("7y").has_value());
}

TEST(ParseTimeArgument, RelativeEpochAndIso) {
  const EpochMs now = 1'000'000'000'000;
  EXPECT_EQ(parseTimeArgument("-2h", now), now - 7'200'000);
  EXPECT_EQ(parseTimeArgument("2h ago", now), now - 7'200'000);
  EXPECT_EQ(parseTimeArgument("1710498030", now), 1710498030000);
  EXPECT_EQ(parseTimeArgument("1710498030456", now), 1710498030456);
  EXPECT_EQ(parseTimeArgument("2024-03-15T10:20:30.456Z", now), 1710498030456);
  EXPECT_FALSE(parseTimeArgument("soon", now).has_value());
}

}  // namespace
}  // namespace sluice
