#include "http/admin_auth.h"

#include <gtest/gtest.h>

#include "core/clock.h"
#include "http/admin_throttle.h"

namespace sluice::http {
namespace {

Request withHeader(std::string name, std::string value) {
  Request request;
  request.headers.emplace_back(std::move(name), std::move(value));
  return request;
}

TEST(AdminAuth, OpenWithoutAToken) { EXPECT_TRUE(adminAuthorized(Request{}, "")); }

TEST(AdminAuth, BearerTokenMustMatch) {
  EXPECT_TRUE(adminAuthorized(withHeader("authorization", "Bearer s3cret"), "s3cret"));
  EXPECT_FALSE(adminAuthorized(withHeader("authorization", "Bearer s3cre"), "s3cret"));
  EXPECT_FALSE(adminAuthorized(withHeader("authorization", "Basic s3cret"), "s3cret"));
  EXPECT_FALSE(adminAuthorized(withHeader("authorization", "Bearer "), "s3cret"));
  EXPECT_FALSE(adminAuthorized(Request{}, "s3cret"));
}

TEST(AdminAuth, CookieAmongOthers) {
  EXPECT_TRUE(adminAuthorized(withHeader("cookie", "a=1; sluice_admin=s3cret; b=2"), "s3cret"));
  EXPECT_TRUE(adminAuthorized(withHeader("cookie", "sluice_admin=s3cret"), "s3cret"));
  EXPECT_FALSE(adminAuthorized(withHeader("cookie", "x_sluice_admin=s3cret"), "s3cret"));
  EXPECT_FALSE(adminAuthorized(withHeader("cookie", "sluice_admin="), "s3cret"));
}

std::string retryAfter(const Response& response) {
  for (const auto& [name, value] : response.headers) {
    if (name == "Retry-After") return value;
  }
  return {};
}

Request from(std::string address, std::string name, std::string value) {
  Request request = withHeader(std::move(name), std::move(value));
  request.peerAddress = std::move(address);
  return request;
}

// Neither the token nor what was typed for it (a near miss) appears in the refusal, its body or
// its headers, whether the attempt was counted (401) or throttled (429).
TEST(AdminCheck, RefusalsShowNeitherTheTokenNorWhatWasTyped) {
  FakeClock clock(1'717'243'200'000);
  AdminThrottle throttle(clock, AdminThrottleOptions{1, 10'000, 100});
  for (int status : {401, 429}) {
    auto refused = adminCheck(from("192.0.2.9", "authorization", "Bearer s3cre"), "s3cret",
                              throttle);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, status);
    EXPECT_EQ(refused->body.find("s3cre"), std::string::npos) << refused->body;
    for (const auto& [name, value] : refused->headers) {
      EXPECT_EQ(value.find("s3cre"), std::string::npos) << name << ": " << value;
    }
  }
}

TEST(AdminCheck, WrongTokensUseUpTheAddressesAttemptsThen429WithoutComparing) {
  FakeClock clock(1'717'243'200'000);
  AdminThrottle throttle(clock, AdminThrottleOptions{2, 10'000, 100});
  const std::string a = "192.0.2.1";
  // Right tokens give their attempt back: any number of them never throttles.
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(adminCheck(from(a, "authorization", "Bearer s3cret"), "s3cret", throttle));
  }
  // A header and a forged cookie count against the same address.
  auto wrong = adminCheck(from(a, "authorization", "Bearer guess"), "s3cret", throttle);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  wrong = adminCheck(from(a, "cookie", "sluice_admin=guess"), "s3cret", throttle);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto throttled = adminCheck(from(a, "authorization", "Bearer s3cret"), "s3cret", throttle);
  ASSERT_TRUE(throttled);
  EXPECT_EQ(throttled->status, 429);
  EXPECT_EQ(retryAfter(*throttled), "10");
  EXPECT_EQ(throttled->body.find("s3cret"), std::string::npos);
  // Presenting nothing guesses nothing: 401, not counted, not throttled.
  auto none = adminCheck(from(a, "accept", "*/*"), "s3cret", throttle);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  // Another address is not affected; the throttled one may try again once a token refilled.
  EXPECT_FALSE(adminCheck(from("192.0.2.2", "authorization", "Bearer s3cret"), "s3cret", throttle));
  clock.advanceMs(10'000);
  EXPECT_FALSE(adminCheck(from(a, "authorization", "Bearer s3cret"), "s3cret", throttle));
}

TEST(AdminCheck, OpenWithoutATokenAndNeverCounted) {
  FakeClock clock(1'717'243'200'000);
  AdminThrottle throttle(clock, AdminThrottleOptions{1, 10'000, 100});
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(adminCheck(from("192.0.2.1", "authorization", "Bearer x"), "", throttle));
  }
}

TEST(AdminCheck, ThrottledReplyRoundsRetryAfterUp) {
  const Response response = adminThrottled(1'001);
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(retryAfter(response), "2");
}

}  // namespace
}  // namespace sluice::http
