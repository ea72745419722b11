// DeliveryState on SQLite: dead letters, expired events, pause state; survives a reopen.
#include <gtest/gtest.h>

#include <filesystem>

#include "store/delivery_state.h"

namespace sluice::store {
namespace {

class DeliveryStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-dstate-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    state_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    state_.reset();
    auto s = openSqliteDeliveryState(dir_.string(), clock_);
    ASSERT_TRUE(s) << s.error().toString();
    state_ = std::move(*s);
  }
  static DeadLetter dead(std::string destination, Seq seq, EpochMs time) {
    DeadLetter d;
    d.destination = std::move(destination);
    d.seq = seq;
    d.source = "web";
    d.messageId = "m" + std::to_string(seq);
    d.eventTimeMs = time;
    d.eventJson = "{\"messageId\":\"m" + std::to_string(seq) + "\"}";
    d.itemJson = "{\"event\":\"Purchase\"}";
    d.reason = "rejected";
    d.code = 40002;
    d.message = "Invalid value for event_id";
    return d;
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<DeliveryState> state_;
};

TEST_F(DeliveryStateTest, DeadLettersAreListedShownDroppedAndSurviveReopen) {
  ASSERT_TRUE(state_->record({dead("a", 5, 1000), dead("a", 6, 2000), dead("b", 7, 3000)}, {}));
  reopen();
  auto list = state_->listDeadLetters("a", 10);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].seq, 5u);
  EXPECT_EQ((*list)[0].code, 40002);
  EXPECT_EQ((*list)[0].createdMs, clock_.nowMs());
  auto one = state_->deadLetter("a", (*list)[1].id);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->messageId, "m6");
  EXPECT_EQ(one->message, "Invalid value for event_id");
  EXPECT_EQ(state_->deadLetter("b", (*list)[1].id).error().code, ErrorCode::kNotFound);

  auto page = state_->listDeadLetters("a", 10, (*list)[0].id);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->size(), 1u);

  auto dropped = state_->dropDeadLetters("a", {(*list)[0].id, 999});
  ASSERT_TRUE(dropped);
  EXPECT_EQ(*dropped, 1u);
  EXPECT_EQ(*state_->countDeadLetters("a"), 1u);
  EXPECT_EQ(*state_->countDeadLetters("b"), 1u);
  EXPECT_EQ(*state_->dropDeadLetters("a", {}), 1u);
  EXPECT_EQ(*state_->countDeadLetters("a"), 0u);
}

TEST_F(DeliveryStateTest, ScansByEventTime) {
  ExpiredEvent e;
  e.destination = "a";
  e.itemJson = "{}";
  std::vector<ExpiredEvent> expired;
  for (int i = 0; i < 1'200; ++i) {
    e.seq = static_cast<Seq>(i + 1);
    e.eventTimeMs = i * 1000;
    expired.push_back(e);
  }
  ASSERT_TRUE(state_->record({dead("a", 1, 500)}, expired));
  EXPECT_EQ(*state_->countExpired("a"), 1'200u);
  std::vector<Seq> seen;
  ASSERT_TRUE(state_->scanExpired("a", EventTimeRange{100'000, 700'000}, [&](const ExpiredEvent& x) {
    seen.push_back(x.seq);
    return true;
  }));
  ASSERT_EQ(seen.size(), 600u);  // pages of 500 are stitched together
  EXPECT_EQ(seen.front(), 101u);
  EXPECT_EQ(seen.back(), 700u);
  int visited = 0;
  ASSERT_TRUE(state_->scanExpired("a", {}, [&](const ExpiredEvent&) { return ++visited < 3; }));
  EXPECT_EQ(visited, 3);
  int deadSeen = 0;
  ASSERT_TRUE(state_->scanDeadLetters("a", EventTimeRange{0, 400}, [&](const DeadLetter&) {
    ++deadSeen;
    return true;
  }));
  EXPECT_EQ(deadSeen, 0);
}

TEST_F(DeliveryStateTest, PauseStateIsDurable) {
  auto none = state_->pauseState("a");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(state_->setPaused("a", PauseState{"40105 Invalid access token", 0}));
  reopen();
  auto paused = state_->pauseState("a");
  ASSERT_TRUE(paused && paused->has_value());
  EXPECT_EQ((*paused)->reason, "40105 Invalid access token");
  EXPECT_EQ((*paused)->sinceMs, clock_.nowMs());
  ASSERT_TRUE(state_->setPaused("a", std::nullopt));
  EXPECT_FALSE(state_->pauseState("a")->has_value());
}

}  // namespace
}  // namespace sluice::store
