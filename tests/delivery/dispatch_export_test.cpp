// CSV and JSON lines of `sluice export`.
#include <gtest/gtest.h>

#include "delivery/export_format.h"

namespace sluice::delivery {
namespace {

ExportRecord record(std::string item) {
  ExportRecord r;
  r.kind = "expired";
  r.seq = 7;
  r.source = "web";
  r.messageId = "m7";
  r.eventTimeMs = 1'717'243'200'000;
  r.eventJson = R"({"messageId":"m7"})";
  r.itemJson = std::move(item);
  return r;
}

TEST(DispatchExportTest, CsvRowTakesTheMappedItemsFields) {
  const std::string hash(64, 'a');
  auto row = csvRow(record(R"({"event":"Purchase","event_time":1717243200,"event_id":"m7",)"
                           R"("user":{"email":[")" + hash + R"(","x"],"phone":")" + hash +
                           R"("},"properties":{"value":49.99,"currency":"USD","order_id":"o,1",)"
                           R"("contents":[{"content_id":"p1"},{"content_id":"p2"}]}})"));
  ASSERT_TRUE(row);
  EXPECT_EQ(*row, "Purchase,2024-06-01T12:00:00.000Z,m7," + hash + "," + hash +
                      ",49.99,USD,\"o,1\",p1;p2");
  EXPECT_EQ(csvHeader(),
            "event_type,event_time,event_id,email,phone,value,currency,order_id,content_ids");
}

TEST(DispatchExportTest, CsvPrefersContentIdsAndLeavesMissingFieldsEmpty) {
  auto row = csvRow(record(R"({"event":"Search","event_time":1717243200,)"
                           R"("properties":{"content_ids":["a","b\"c"]}})"));
  ASSERT_TRUE(row);
  EXPECT_EQ(*row, "Search,2024-06-01T12:00:00.000Z,,,,,,,\"a;b\"\"c\"");
  EXPECT_FALSE(csvRow(record("")));  // mapping failed: nothing to upload
}

TEST(DispatchExportTest, JsonLineKeepsEverything) {
  store::DeadLetter d;
  d.seq = 3;
  d.messageId = "m3";
  d.eventJson = R"({"a":1})";
  d.itemJson = R"({"event":"Purchase"})";
  d.reason = "rejected";
  d.code = 40002;
  d.message = "Invalid value";
  const std::string line = jsonLine(exportRecord(d));
  EXPECT_NE(line.find(R"("kind":"dead")"), std::string::npos);
  EXPECT_NE(line.find(R"("item":{"event":"Purchase"})"), std::string::npos);
  EXPECT_NE(line.find(R"("event":{"a":1})"), std::string::npos);
  EXPECT_NE(line.find(R"("code":40002)"), std::string::npos);
  EXPECT_NE(line.find(R"("message":"Invalid value")"), std::string::npos);
}

}  // namespace
}  // namespace sluice::delivery
