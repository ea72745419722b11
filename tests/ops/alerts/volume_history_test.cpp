#include "ops/alerts/volume_history.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

namespace sluice::ops::alerts {
namespace {

using delivery::EventNameCounts;

constexpr EpochMs kDay0 = 1'717'200'000'000;  // 2024-06-01T00:00:00Z

class TempFile {
 public:
  TempFile() {
    path_ =
        (std::filesystem::temp_directory_path() / ("sluice-history-" + std::to_string(::getpid()) +
                                                   "-" + std::to_string(counter_++) + ".db"))
            .string();
  }
  ~TempFile() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

std::map<std::string, EventNameCounts> counts(uint64_t mapped, uint64_t delivered) {
  return {{"CompletePayment", EventNameCounts{mapped, delivered, 0, 0}}};
}

TEST(VolumeHistoryTest, SnapshotsBecomePerMinuteDeltas) {
  auto history = VolumeHistory::open("", kDay0).value();
  history->observe("tiktok", counts(10, 8), kDay0 + 5'000);
  history->observe("tiktok", counts(25, 20), kDay0 + 30'000);
  history->observe("tiktok", counts(40, 40), kDay0 + 65'000);
  const VolumeCounts first = history->sum("tiktok", "CompletePayment", kDay0, kDay0 + kMinuteMs);
  EXPECT_EQ(first.received, 25u);
  EXPECT_EQ(first.delivered, 20u);
  int covered = 0;
  const VolumeCounts both =
      history->sum("tiktok", "CompletePayment", kDay0, kDay0 + 2 * kMinuteMs, &covered);
  EXPECT_EQ(both.received, 40u);
  EXPECT_EQ(both.delivered, 40u);
  EXPECT_EQ(covered, 2);
}

TEST(VolumeHistoryTest, CounterRestartCountsTheNewValue) {
  auto history = VolumeHistory::open("", kDay0).value();
  history->observe("tiktok", counts(100, 100), kDay0);
  history->observe("tiktok", counts(130, 120), kDay0 + 10'000);
  // The dispatcher restarted (reload): its counters began again from zero.
  history->observe("tiktok", counts(7, 5), kDay0 + 20'000);
  history->observe("tiktok", counts(9, 9), kDay0 + 30'000);
  const VolumeCounts c = history->sum("tiktok", "CompletePayment", kDay0, kDay0 + kMinuteMs);
  EXPECT_EQ(c.received, 100u + 30 + 7 + 2);
  EXPECT_EQ(c.delivered, 100u + 20 + 5 + 4);
  // forget(): the next snapshot counts from zero as well.
  history->forget("tiktok");
  history->observe("tiktok", counts(3, 3), kDay0 + 40'000);
  EXPECT_EQ(history->sum("tiktok", "CompletePayment", kDay0, kDay0 + kMinuteMs).received, 139u + 3);
}

TEST(VolumeHistoryTest, SurvivesReopenAndKeepsHoursAfterMinutesExpire) {
  TempFile file;
  {
    auto history = VolumeHistory::open(file.path(), kDay0).value();
    for (int m = 0; m < 120; ++m) {
      history->add("tiktok", "Purchase", kDay0 + m * kMinuteMs, VolumeCounts{10, 9});
    }
    history->cover("other", kDay0);
    ASSERT_TRUE(history->flush(kDay0 + 120 * kMinuteMs).has_value());
  }
  {
    auto history = VolumeHistory::open(file.path(), kDay0 + 121 * kMinuteMs).value();
    EXPECT_EQ(history->sum("tiktok", "Purchase", kDay0, kDay0 + 120 * kMinuteMs).received, 1200u);
    ASSERT_TRUE(history->hourRate("tiktok", "Purchase", kDay0).has_value());
    EXPECT_DOUBLE_EQ(*history->hourRate("tiktok", "Purchase", kDay0), 10.0);
    EXPECT_EQ(history->destinations(), (std::vector<std::string>{"other", "tiktok"}));
  }
  {
    // Two days later the minutes are gone, the hours are kept.
    const EpochMs later = kDay0 + 2 * kDayMs;
    auto history = VolumeHistory::open(file.path(), later).value();
    int covered = -1;
    EXPECT_EQ(history->sum("tiktok", "Purchase", kDay0, kDay0 + 120 * kMinuteMs, &covered).received,
              0u);
    EXPECT_EQ(covered, 0);
    ASSERT_TRUE(history->hourRate("tiktok", "Purchase", kDay0 + kHourMs).has_value());
    EXPECT_DOUBLE_EQ(*history->hourRate("tiktok", "Purchase", kDay0 + kHourMs), 10.0);
    // Flushing there prunes the file's minute rows; the hours stay.
    history->cover("tiktok", later);
    ASSERT_TRUE(history->flush(later + kMinuteMs).has_value());
  }
  {
    auto history = VolumeHistory::open(file.path(), kDay0 + 16 * kDayMs).value();
    EXPECT_FALSE(history->hourRate("tiktok", "Purchase", kDay0).has_value());  // beyond 15 days
  }
}

TEST(VolumeHistoryTest, HourRateNeedsCoverageAndCountsSilentMinutesAsZero) {
  auto history = VolumeHistory::open("", kDay0).value();
  for (int m = 0; m < 60; ++m) {
    if (m < 20)
      history->add("tiktok", "Purchase", kDay0 + m * kMinuteMs, VolumeCounts{6, 6});
    else
      history->cover("tiktok", kDay0 + m * kMinuteMs);  // sampled, no volume
  }
  ASSERT_TRUE(history->hourRate("tiktok", "Purchase", kDay0).has_value());
  EXPECT_DOUBLE_EQ(*history->hourRate("tiktok", "Purchase", kDay0), 2.0);
  for (int m = 0; m < 10; ++m) history->cover("tiktok", kDay0 + kHourMs + m * kMinuteMs);
  EXPECT_FALSE(history->hourRate("tiktok", "Purchase", kDay0 + kHourMs).has_value());
  EXPECT_TRUE(history->hourRate("tiktok", "Purchase", kDay0 + kHourMs, 10).has_value());
}

TEST(VolumeHistoryTest, SeriesJsonPerMinuteWithGapsAsNull) {
  auto history = VolumeHistory::open("", kDay0).value();
  const EpochMs t = kDay0 + 10 * kHourMs;
  history->add("tiktok", "Purchase", t, VolumeCounts{5, 4});
  history->add("tiktok", "AddToCart", t + kMinuteMs, VolumeCounts{3, 3});
  history->cover("tiktok", t + 2 * kMinuteMs);
  const auto json =
      boost::json::parse(history->seriesJson("tiktok", t, t + 4 * kMinuteMs, t + 5 * kMinuteMs))
          .as_object();
  EXPECT_EQ(json.at("step_ms").as_int64(), kMinuteMs);
  const auto& minutes = json.at("minute_ms").as_array();
  ASSERT_EQ(minutes.size(), 4u);
  EXPECT_EQ(minutes[0].as_int64(), t);
  const auto& purchase = json.at("series").at("Purchase").as_object();
  EXPECT_EQ(boost::json::serialize(purchase.at("received")), "[5,0,0,null]");
  EXPECT_EQ(boost::json::serialize(purchase.at("delivered")), "[4,0,0,null]");
  EXPECT_EQ(boost::json::serialize(json.at("series").at("AddToCart").at("received")),
            "[0,3,0,null]");
  // A range reaching two days back is answered per hour.
  const auto hourly =
      boost::json::parse(history->seriesJson("tiktok", t - 2 * kDayMs, t + kHourMs, t + kHourMs))
          .as_object();
  EXPECT_EQ(hourly.at("step_ms").as_int64(), kHourMs);
  const auto& received = hourly.at("series").at("Purchase").at("received").as_array();
  EXPECT_EQ(received.back().as_int64(), 5);  // the hour holding t
  // Unknown destination: the minutes, no series.
  const auto none =
      boost::json::parse(history->seriesJson("nope", t, t + kMinuteMs, t)).as_object();
  EXPECT_TRUE(none.at("series").as_object().empty());
}

}  // namespace
}  // namespace sluice::ops::alerts
