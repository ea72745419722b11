// AdminThrottle: failed admin-token attempts per client address, on a fake clock.
#include "http/admin_throttle.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::http {
namespace {

constexpr EpochMs kStart = 1'717'243'200'000;

TEST(AdminThrottleTest, FailuresUseUpTheBucketWhichRefillsOverTime) {
  FakeClock clock(kStart);
  AdminThrottle throttle(clock, AdminThrottleOptions{3, 10'000, 100});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(throttle.tryAttempt("192.0.2.7"), 0) << i;
  EXPECT_EQ(throttle.tryAttempt("192.0.2.7"), 10'000);
  EXPECT_EQ(throttle.tryAttempt("192.0.2.8"), 0);  // another address has its own bucket
  clock.advanceMs(4'000);
  EXPECT_EQ(throttle.tryAttempt("192.0.2.7"), 6'000);
  clock.advanceMs(6'000);
  EXPECT_EQ(throttle.tryAttempt("192.0.2.7"), 0);  // one attempt refilled
  EXPECT_GT(throttle.tryAttempt("192.0.2.7"), 0);
}

TEST(AdminThrottleTest, SuccessGivesTheAttemptBack) {
  FakeClock clock(kStart);
  AdminThrottle throttle(clock, AdminThrottleOptions{2, 10'000, 100});
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(throttle.tryAttempt("198.51.100.1"), 0) << i;
    throttle.succeeded("198.51.100.1");
  }
  EXPECT_EQ(throttle.tryAttempt("198.51.100.1"), 0);
  EXPECT_EQ(throttle.tryAttempt("198.51.100.1"), 0);
  EXPECT_GT(throttle.tryAttempt("198.51.100.1"), 0);
}

TEST(AdminThrottleTest, Ipv6CountsPerSlash64AndMappedIpv4AsIpv4) {
  EXPECT_EQ(AdminThrottle::addressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(AdminThrottle::addressKey("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
  EXPECT_EQ(AdminThrottle::addressKey("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(AdminThrottle::addressKey("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(AdminThrottle::addressKey("not an address"), "not an address");
  FakeClock clock(kStart);
  AdminThrottle throttle(clock, AdminThrottleOptions{1, 10'000, 100});
  EXPECT_EQ(throttle.tryAttempt("2001:db8:1:2::1"), 0);
  EXPECT_GT(throttle.tryAttempt("2001:db8:1:2::2"), 0);  // same /64: same bucket
}

TEST(AdminThrottleTest, AtMostMaxAddressesAreRememberedTheStalestForgotten) {
  FakeClock clock(kStart);
  AdminThrottle throttle(clock, AdminThrottleOptions{1, 60'000, 4});
  for (int i = 1; i <= 50; ++i) {
    EXPECT_EQ(throttle.tryAttempt("10.0.0." + std::to_string(i)), 0) << i;
    clock.advanceMs(10);
  }
  // The four most recent are remembered (throttled); the first was forgotten.
  for (int i = 47; i <= 50; ++i) EXPECT_GT(throttle.tryAttempt("10.0.0." + std::to_string(i)), 0);
  EXPECT_EQ(throttle.tryAttempt("10.0.0.1"), 0);
}

}  // namespace
}  // namespace sluice::http
