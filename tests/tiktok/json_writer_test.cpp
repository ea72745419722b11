#include "tiktok/json_writer.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cmath>
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

TEST(JsonWriter, ValuesRoundTrip) {
  std::string text = R"({"a":[1,2.5,"x",true,null,{"b":-3}],"big":12345678901234567000})";
  std::string out;
  appendJsonValue(out, boost::json::parse(text));
  EXPECT_EQ(out, R"({"a":[1,2.5,"x",true,null,{"b":-3}],"big":12345678901234567000})");
}

}  // namespace
}  // namespace sluice::tiktok
