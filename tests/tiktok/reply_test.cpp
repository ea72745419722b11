#include "tiktok/reply.h"

#include <gtest/gtest.h>

namespace sluice::tiktok {
namespace {

ReplyClass classOf(int status, std::string_view body) {
  return classifyReply(status, body).replyClass;
}

TEST(Reply, SuccessCodes) {
  EXPECT_EQ(classOf(200, R"({"code":0,"message":"OK","request_id":"r"})"), ReplyClass::kDelivered);
  EXPECT_EQ(classOf(200, R"({"code":20001,"message":"partial"})"), ReplyClass::kDelivered);
  EXPECT_EQ(classOf(200, ""), ReplyClass::kDelivered);  // no body: the status decides
}

TEST(Reply, BodyCodeBeatsHttpStatus) {
  // D3: Segment counts a 200 with a non-zero code as delivered; we do not.
  auto reply = classifyReply(200, R"({"code":40001,"message":"No permission to operate pixel"})");
  EXPECT_EQ(reply.replyClass, ReplyClass::kPause);
  EXPECT_EQ(reply.code, 40001);
  EXPECT_EQ(reply.message, "No permission to operate pixel");
  EXPECT_EQ(classOf(200, R"({"code":40100,"message":"too frequent"})"), ReplyClass::kRetry);
  EXPECT_EQ(classOf(200, R"({"code":40002,"message":"Invalid value for event_id"})"),
            ReplyClass::kDead);
  EXPECT_EQ(classOf(500, R"({"code":0})"), ReplyClass::kRetry);
}

TEST(Reply, RetryCodes) {
  for (int code : {40100, 40132, 50000, 50002, 51012, 52999, 60001, 61000}) {
    EXPECT_EQ(classOf(200, R"({"code":)" + std::to_string(code) + "}"), ReplyClass::kRetry) << code;
  }
  EXPECT_EQ(classOf(429, R"({"message":"slow down"})"), ReplyClass::kRetry);
  EXPECT_EQ(classOf(500, "boom"), ReplyClass::kRetry);
  EXPECT_EQ(classOf(502, "<html>bad gateway</html>"), ReplyClass::kRetry);
  EXPECT_EQ(classOf(0, ""), ReplyClass::kRetry);  // timeout or connection error
  EXPECT_EQ(classOf(503, R"({"code":40002})"), ReplyClass::kRetry);
}

TEST(Reply, PauseCodes) {
  for (int code : {40001, 40102, 40104, 40105, 40300}) {
    EXPECT_EQ(classOf(200, R"({"code":)" + std::to_string(code) + "}"), ReplyClass::kPause) << code;
  }
  EXPECT_EQ(classOf(401, ""), ReplyClass::kPause);
  EXPECT_EQ(classOf(403, "forbidden"), ReplyClass::kPause);
}

TEST(Reply, DeadLetters) {
  auto reply = classifyReply(400, R"({"code":40002,"message":"Invalid"})");
  EXPECT_EQ(reply.replyClass, ReplyClass::kDead);
  EXPECT_EQ(reply.message, "Invalid");
  EXPECT_EQ(classOf(400, "not json"), ReplyClass::kDead);
  EXPECT_EQ(classifyReply(404, "").message, "Not Found");
  EXPECT_STREQ(replyClassName(ReplyClass::kDead), "dead");
}

}  // namespace
}  // namespace sluice::tiktok
