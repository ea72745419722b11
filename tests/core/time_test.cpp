#include "core/time.h"

#include <gtest/gtest.h>

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
