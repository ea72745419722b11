#include "http/admin_auth.h"

#include <gtest/gtest.h>

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

TEST(AdminAuth, UnauthorizedReplyHidesTheToken) {
  const Response response = adminUnauthorized();
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.body.find("s3cret"), std::string::npos);
}

}  // namespace
}  // namespace sluice::http
