// Dispatcher unit tests: a FakeClock, a FakeHttpClient, an in-memory feed, the real SQLite
// delivery state in a temporary directory. Every test drives runOnce() itself.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "delivery/dispatcher.h"
#include "delivery/dispatch_test_util.h"
#include "store/sqlite_log.h"

namespace sluice::delivery {
namespace {

using testing::FakeCodec;
using testing::itemCount;
using testing::makeEvent;
using testing::MemoryFeed;

std::string headerOf(const HttpPost& post, std::string_view name) {
  for (const auto& [key, value] : post.headers) {
    if (key == name) return value;
  }
  return "";
}

class FixedRandom final : public Random {
 public:
  uint64_t next() override { return value; }
  uint64_t value = ~0ull;  // backoff takes the full cap of each attempt (r % (cap + 1) = cap)
};

class DispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-dispatch-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto state = store::openSqliteDeliveryState(dir_.string(), clock_);
    ASSERT_TRUE(state) << state.error().toString();
    state_ = std::move(*state);
    options_.destination = "tiktok";
    options_.lingerMs = 250;
    options_.backoffBaseMs = 100;
    options_.backoffCapMs = 1'000;
    options_.breakerProbeIntervalMs = 5'000;
    options_.pausedProbeIntervalMs = 10'000;
    options_.maxRequestsPerSecond = 1'000;
    options_.maxEventsPerSecond = 1'000'000;
    options_.commitIntervalMs = 0;
  }
  void TearDown() override {
    dispatcher_.reset();
    state_.reset();
    std::filesystem::remove_all(dir_);
  }

  Dispatcher& make() {
    auto feed = std::make_unique<MemoryFeed>();
    feed_ = feed.get();
    for (auto& e : initial_) feed_->add(e);
    auto codec = std::make_unique<FakeCodec>();
    codec->forkable = forkableCodec_;
    forkMaps_ = codec->forkMaps;
    dispatcher_ = std::make_unique<Dispatcher>(options_, std::move(codec), std::move(feed), http_,
                                               *state_, clock_, random_);
    return *dispatcher_;
  }

  // Runs steps, advancing the fake clock by `stepMs` after each, for `totalMs`.
  void run(int64_t totalMs, int64_t stepMs = 10) {
    for (int64_t t = 0; t < totalMs; t += stepMs) {
      dispatcher_->runOnce();
      clock_.advanceMs(stepMs);
    }
    dispatcher_->runOnce();
  }

  void addEvents(store::Seq from, store::Seq to, const std::string& key) {
    for (store::Seq s = from; s <= to; ++s) initial_.push_back(makeEvent(s, key, clock_.nowMs()));
  }

  static HttpOutcome code(int c, std::string message = "OK") {
    return FakeHttpClient::tikTokCode(c, std::move(message));
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  FixedRandom random_;
  FakeHttpClient http_;
  std::unique_ptr<store::DeliveryState> state_;
  DispatcherOptions options_;
  std::vector<store::StoredEvent> initial_;
  MemoryFeed* feed_ = nullptr;
  bool forkableCodec_ = false;
  std::shared_ptr<std::atomic<size_t>> forkMaps_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatchTest, PacksFullBodiesPerKeyAndLingersPartialOnes) {
  addEvents(1, 2'500, "a");
  addEvents(2'501, 2'510, "b");
  http_.setResponder([](const HttpPost&) { return code(0); });
  auto& d = make();
  d.runOnce();
  auto sent = http_.sent();
  ASSERT_EQ(sent.size(), 2u);  // the two full bodies of key a go at once
  EXPECT_EQ(itemCount(sent[0].body), 1'000u);
  EXPECT_EQ(itemCount(sent[1].body), 1'000u);
  EXPECT_EQ(headerOf(sent[0], "X-Key"), "a");
  clock_.advanceMs(249);
  d.runOnce();
  EXPECT_EQ(http_.sentCount(), 2u);  // partial bodies wait for the linger time
  clock_.advanceMs(1);
  d.runOnce();
  sent = http_.sent();
  ASSERT_EQ(sent.size(), 4u);
  std::multiset<size_t> sizes{itemCount(sent[2].body), itemCount(sent[3].body)};
  EXPECT_EQ(sizes, (std::multiset<size_t>{500, 10}));
  d.runOnce();
  EXPECT_EQ(d.stats().itemsDelivered, 2'510u);
  EXPECT_EQ(feed_->committed, 2'510u);
}

TEST_F(DispatchTest, FullBodiesLeaveBeforeTheRestOfTheBacklogIsRead) {
  // A backlog of ten chunks: each full body goes out as soon as its chunk is mapped, so that the
  // destination works while the next chunks are read, instead of after the whole window is.
  // With map threads, the dispatcher has also read the next chunk by then (it reads while the
  // pool maps); the last body leaves when everything is read.
  auto readCountAtEachPost = [&](size_t mapThreads) {
    initial_.clear();
    addEvents(1, 10'000, "a");
    options_.readChunk = 1'000;
    options_.maxOutstandingItems = 10'000;
    options_.mapThreads = mapThreads;
    forkableCodec_ = mapThreads > 0;
    std::vector<size_t> readAtPost;
    http_.setResponder([&](const HttpPost&) {
      readAtPost.push_back(feed_->readCount());
      return code(0);
    });
    auto& d = make();
    d.runOnce();
    d.runOnce();
    EXPECT_EQ(d.stats().itemsDelivered, 10'000u);
    EXPECT_EQ(forkMaps_->load(), mapThreads > 0 ? 10'000u : 0u);
    dispatcher_.reset();
    return readAtPost;
  };
  const auto alone = readCountAtEachPost(0);
  ASSERT_EQ(alone.size(), 10u);
  for (size_t i = 0; i < alone.size(); ++i) EXPECT_EQ(alone[i], 1'000 * (i + 1)) << "body " << i;
  const auto pooled = readCountAtEachPost(2);
  ASSERT_EQ(pooled.size(), 10u);
  for (size_t i = 0; i + 1 < pooled.size(); ++i) {
    EXPECT_EQ(pooled[i], 1'000 * (i + 2)) << "body " << i;
  }
  EXPECT_EQ(pooled.back(), 10'000u);
}

// An endless feed of events the codec is not fed (source "other"), each read taking 30 ms.
class SlowSkippedFeed final : public EventFeed {
 public:
  explicit SlowSkippedFeed(FakeClock& clock) : clock_(clock) {}
  Result<size_t> read(size_t max, std::vector<store::StoredEvent>& out) override {
    clock_.advanceMs(30);
    const size_t n = std::min<size_t>(max, 1'000);
    for (size_t i = 0; i < n; ++i) {
      store::fillSlot(out, i) = makeEvent(++seq_, "a", clock_.nowMs(), "track", "other");
    }
    return n;
  }
  bool finished() const override { return false; }
  Result<void> commit(store::Seq) override { return ok(); }
  Result<store::StoredEvent> fetch(store::Seq) override {
    return fail(ErrorCode::kNotFound, "not kept");
  }
  store::Seq read() const { return seq_; }

 private:
  FakeClock& clock_;
  store::Seq seq_ = 0;
};

TEST_F(DispatchTest, AReadCutShortByItsTimeBoundGoesOnAtOnce) {
  // Skipped events hold no items, so only the 50 ms bound ends the reading: two reads of 30 ms,
  // on the dispatcher's thread alone and with a map pool.
  options_.readChunk = 1'000;
  for (size_t mapThreads : {0u, 2u}) {
    options_.mapThreads = mapThreads;
    auto feed = std::make_unique<SlowSkippedFeed>(clock_);
    const SlowSkippedFeed& slow = *feed;
    auto codec = std::make_unique<FakeCodec>();
    codec->forkable = true;
    Dispatcher d(options_, std::move(codec), std::move(feed), http_, *state_, clock_, random_);
    EXPECT_EQ(d.runOnce(), 0);  // more is there to read: no poll wait
    EXPECT_EQ(slow.read(), 2'000u);
    EXPECT_EQ(d.runOnce(), 0);
    EXPECT_EQ(slow.read(), 4'000u);
    EXPECT_EQ(d.stats().eventsSkipped, 4'000u) << mapThreads << " map threads";
  }
}

TEST_F(DispatchTest, AFeedErrorStillTakesInTheChunkAlreadyRead) {
  // The second read fails once: the first chunk (mapped meanwhile on the pool) is still turned
  // into a body and sent, the step reports the error, and the next attempt reads on. Nothing is
  // lost or sent twice, with and without a pool.
  for (size_t mapThreads : {0u, 2u}) {
    initial_.clear();
    addEvents(1, 3'000, "a");
    options_.readChunk = 1'000;
    options_.mapThreads = mapThreads;
    forkableCodec_ = true;
    http_.setResponder([](const HttpPost&) { return code(0); });
    const size_t sentBefore = http_.sentCount();
    auto& d = make();
    feed_->failReadAt = 1'000;
    d.runOnce();
    EXPECT_EQ(feed_->readCount(), 1'000u);
    ASSERT_EQ(http_.sentCount() - sentBefore, 1u) << mapThreads << " map threads";
    run(3'000, 100);  // the retry waits a second
    EXPECT_EQ(d.stats().itemsDelivered, 3'000u) << mapThreads << " map threads";
    EXPECT_EQ(http_.sentCount() - sentBefore, 3u);
    EXPECT_EQ(feed_->committed, 3'000u);
    dispatcher_.reset();
  }
}

TEST_F(DispatchTest, ReconfiguringRebuildsTheMapPool) {
  // Pool of 2 forks of the first codec, then of 1 fork of a second, then none (the third maps on
  // the dispatcher's thread): each reconfiguration's codec maps what is read after it.
  addEvents(1, 3'000, "a");
  options_.readChunk = 1'000;
  options_.mapThreads = 2;
  forkableCodec_ = true;
  http_.setResponder([](const HttpPost&) { return code(0); });
  auto& d = make();
  run(500, 10);
  EXPECT_EQ(d.stats().itemsDelivered, 3'000u);
  EXPECT_EQ(forkMaps_->load(), 3'000u);
  auto reconfigureWith = [&](size_t mapThreads, store::Seq from) {
    for (store::Seq s = from; s < from + 3'000; ++s) feed_->add(makeEvent(s, "a", clock_.nowMs()));
    options_.mapThreads = mapThreads;
    auto codec = std::make_unique<FakeCodec>();
    codec->forkable = true;
    auto maps = codec->forkMaps;
    d.reconfigure(options_, std::move(codec));
    run(500, 10);
    return maps->load();
  };
  EXPECT_EQ(reconfigureWith(1, 3'001), 3'000u);
  EXPECT_EQ(reconfigureWith(0, 6'001), 0u);
  EXPECT_EQ(d.stats().itemsDelivered, 9'000u);
  EXPECT_EQ(forkMaps_->load(), 3'000u);  // the first codec's forks mapped nothing more
  EXPECT_EQ(feed_->committed, 9'000u);
}

TEST_F(DispatchTest, MappingOnSeveralThreadsGivesTheSameBodiesInTheSameOrder) {
  // Mixed events: two batch keys, mapping failures, two-item events, sources not fed.
  for (store::Seq s = 1; s <= 4'500; ++s) {
    const std::string type = s % 97 == 0 ? "bad" : s % 13 == 0 ? "double" : "track";
    initial_.push_back(
        makeEvent(s, s % 3 == 0 ? "b" : "a", clock_.nowMs(), type, s % 11 == 0 ? "other" : "web"));
  }
  http_.setResponder([](const HttpPost&) { return code(0); });
  auto bodiesWith = [&](size_t threads) {
    options_.mapThreads = threads;
    forkableCodec_ = threads > 1;
    const size_t before = http_.sentCount();
    auto& d = make();
    run(600);
    EXPECT_TRUE(feed_->committed == 4'500u) << feed_->committed;
    EXPECT_EQ(d.stats().eventsSkipped, 4'500u / 11);
    std::vector<std::string> bodies;
    auto sent = http_.sent();
    for (size_t i = before; i < sent.size(); ++i) bodies.push_back(sent[i].body);
    dispatcher_.reset();
    return bodies;
  };
  const auto serial = bodiesWith(1);
  ASSERT_EQ(serial.size(), 5u);  // keys a and b: 3 + 2 bodies
  EXPECT_EQ(serial[0].rfind("[\"m1\",\"m2\",\"m4\",", 0), 0u) << serial[0].substr(0, 40);
  EXPECT_EQ(forkMaps_->load(), 0u);  // one thread and a codec that cannot fork: no pool
  const auto parallel = bodiesWith(3);
  EXPECT_EQ(parallel, serial);
  // The three forks mapped every event fed to the codec, the dispatcher's codec none.
  EXPECT_EQ(forkMaps_->load(), 4'500u - 4'500u / 11);
}

TEST_F(DispatchTest, SkipsSourcesNotFedAndSendsEveryItemOfMultiMatchEvents) {
  initial_.push_back(makeEvent(1, "a", clock_.nowMs(), "track", "other"));
  initial_.push_back(makeEvent(2, "a", clock_.nowMs(), "double"));
  http_.setResponder([](const HttpPost&) { return code(0); });
  auto& d = make();
  run(300);
  ASSERT_EQ(http_.sentCount(), 1u);
  EXPECT_EQ(http_.sent()[0].body, "[\"m2\",\"m2-2\"]");
  EXPECT_EQ(d.stats().eventsSkipped, 1u);
  EXPECT_EQ(feed_->committed, 2u);
}

TEST_F(DispatchTest, PoisonEventIsIsolatedDeadLetteredAndTheRestDelivered) {
  addEvents(1, 1'000, "a");
  http_.setResponder([](const HttpPost& p) {
    if (p.body.find("\"m537\"") != std::string::npos) {
      return code(40002, "Invalid value for event_id: not a valid string.");
    }
    return code(0);
  });
  auto& d = make();
  run(1'000);
  const auto stats = d.stats();
  EXPECT_EQ(stats.itemsDelivered, 999u);
  EXPECT_EQ(stats.itemsDead, 1u);
  EXPECT_GE(stats.splits, 9u);
  EXPECT_LE(http_.sentCount(), 25u);  // about 2 log2(1000) requests, not 1,000
  auto dead = state_->listDeadLetters("tiktok", 10);
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].seq, 537u);
  EXPECT_EQ((*dead)[0].code, 40002);
  EXPECT_EQ((*dead)[0].message, "Invalid value for event_id: not a valid string.");
  EXPECT_EQ((*dead)[0].itemJson, "\"m537\"");
  EXPECT_EQ((*dead)[0].messageId, "m537");
  EXPECT_EQ(feed_->committed, 1'000u);
}

TEST_F(DispatchTest, MappingFailureIsDeadLetteredWithTheReason) {
  initial_.push_back(makeEvent(1, "a", clock_.nowMs(), "bad"));
  addEvents(2, 3, "a");
  http_.setResponder([](const HttpPost&) { return code(0); });
  auto& d = make();
  run(300);
  EXPECT_EQ(d.stats().itemsDelivered, 2u);
  auto dead = state_->listDeadLetters("tiktok", 10);
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].reason, "mapping");
  EXPECT_EQ((*dead)[0].message, "price must be a number");
  EXPECT_FALSE((*dead)[0].eventJson.empty());
  EXPECT_EQ(feed_->committed, 3u);
}

// While a dead letter cannot be recorded (a full disk), the cursor does not pass its event: on a
// crash it would be read again, not lost. Once the state takes writes, it is recorded.
TEST_F(DispatchTest, TheCursorWaitsWhileADeadLetterCannotBeRecorded) {
  auto failing = std::make_unique<testing::FailingRecords>(std::move(state_));
  testing::FailingRecords* records = failing.get();
  state_ = std::move(failing);
  records->failures = 1'000'000;
  initial_.push_back(makeEvent(1, "a", clock_.nowMs(), "bad"));
  addEvents(2, 3, "a");
  http_.setResponder([](const HttpPost&) { return code(0); });
  auto& d = make();
  run(300);
  EXPECT_EQ(d.stats().itemsDelivered, 2u);
  EXPECT_EQ(feed_->committed, 0u);
  EXPECT_EQ(*state_->countDeadLetters("tiktok"), 0u);

  records->failures = 0;
  run(300);
  auto dead = state_->listDeadLetters("tiktok", 10);
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].seq, 1u);
  EXPECT_EQ(feed_->committed, 3u);
}

TEST_F(DispatchTest, EventsPastMaxAgeAreExpiredNotSent) {
  options_.maxEventAgeMs = 60'000;
  initial_.push_back(makeEvent(1, "a", clock_.nowMs() - 61'000));
  initial_.push_back(makeEvent(2, "a", clock_.nowMs()));
  http_.setResponder([](const HttpPost&) { return code(0); });
  auto& d = make();
  run(300);
  ASSERT_EQ(http_.sentCount(), 1u);
  EXPECT_EQ(http_.sent()[0].body, "[\"m2\"]");
  EXPECT_EQ(d.stats().itemsExpired, 1u);
  std::vector<store::ExpiredEvent> expired;
  ASSERT_TRUE(state_->scanExpired("tiktok", {}, [&](const store::ExpiredEvent& e) {
    expired.push_back(e);
    return true;
  }));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].seq, 1u);
  EXPECT_EQ(expired[0].itemJson, "\"m1\"");
  EXPECT_EQ(feed_->committed, 2u);
}

TEST_F(DispatchTest, EventsThatAgeWhileWaitingForRetryAreExpired) {
  options_.maxEventAgeMs = 10'000;
  addEvents(1, 5, "a");
  http_.setResponder([](const HttpPost&) { return FakeHttpClient::reply(500, "oops"); });
  auto& d = make();
  run(20'000, 50);
  const auto stats = d.stats();
  EXPECT_EQ(stats.itemsExpired, 5u);
  EXPECT_EQ(stats.itemsDelivered, 0u);
  EXPECT_EQ(feed_->committed, 5u);
  auto count = state_->countExpired("tiktok");
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 5u);
}

TEST_F(DispatchTest, ThrottledRepliesBackOffHonouringRetryAfterThenDeliver) {
  addEvents(1, 10, "a");
  int calls = 0;
  http_.setResponder([&](const HttpPost&) {
    if (++calls <= 2) {
      auto o = code(40100, "Too many requests. Please retry in some time.");
      o.headers = {{"retry-after", "3"}};
      return o;
    }
    return code(0);
  });
  auto& d = make();
  run(260);
  EXPECT_EQ(http_.sentCount(), 1u);
  run(2'900);  // Retry-After 3 s beats the 100-1,000 ms backoff
  EXPECT_EQ(http_.sentCount(), 1u);
  run(200);
  EXPECT_EQ(http_.sentCount(), 2u);
  run(3'100);
  EXPECT_EQ(http_.sentCount(), 3u);
  EXPECT_EQ(d.stats().itemsDelivered, 10u);
  EXPECT_EQ(feed_->committed, 10u);
}

TEST_F(DispatchTest, TokenErrorPausesProbesRarelyAndResumesOnReload) {
  addEvents(1, 3'000, "a");
  bool tokenFixed = false;
  http_.setResponder([&](const HttpPost& p) {
    if (!tokenFixed || headerOf(p, "Access-Token") != "new-token") {
      return code(40105, "Invalid access token");
    }
    return code(0);
  });
  auto& d = make();
  d.runOnce();
  d.runOnce();  // takes the replies
  EXPECT_TRUE(d.stats().paused);
  EXPECT_EQ(d.stats().breaker, BreakerState::kPaused);
  auto paused = state_->pauseState("tiktok");
  ASSERT_TRUE(paused && paused->has_value());
  EXPECT_NE((*paused)->reason.find("40105"), std::string::npos);
  EXPECT_EQ((*paused)->reason.find("secret"), std::string::npos);
  const size_t afterPause = http_.sentCount();
  EXPECT_LE(afterPause, 4u);  // what was in flight at once
  run(60'000, 100);           // a minute paused: one probe per 10 s
  const size_t probes = http_.sentCount() - afterPause;
  EXPECT_GE(probes, 5u);
  EXPECT_LE(probes, 7u);
  EXPECT_EQ(d.stats().itemsDelivered, 0u);

  tokenFixed = true;
  auto codec = std::make_unique<FakeCodec>();
  codec->token = "new-token";
  d.reconfigure(options_, std::move(codec));
  run(1'000, 10);
  EXPECT_FALSE(d.stats().paused);
  EXPECT_EQ(d.stats().itemsDelivered, 3'000u);
  EXPECT_EQ(feed_->committed, 3'000u);
  paused = state_->pauseState("tiktok");
  ASSERT_TRUE(paused);
  EXPECT_FALSE(paused->has_value());
}

TEST_F(DispatchTest, LongOutageSendsLessAndLessThenDrains) {
  options_.maxEvents = 100;
  options_.maxOutstandingItems = 2'000;
  options_.breakerFailureThreshold = 3;
  options_.breakerProbeIntervalMs = 10'000;
  options_.retryBudgetRatio = 0.2;
  addEvents(1, 10'000, "a");
  bool down = true;
  http_.setResponder([&](const HttpPost&) {
    return down ? FakeHttpClient::reply(500, "Internal Server Error") : code(0);
  });
  auto& d = make();
  run(60'000, 50);
  const size_t firstMinute = http_.sentCount();
  run(600'000, 100);
  const size_t nextTenMinutes = http_.sentCount() - firstMinute;
  // The breaker is open: one probe per 10 s, i.e. about 60 in ten minutes, whatever the backlog.
  EXPECT_LE(nextTenMinutes, 70u);
  EXPECT_LT(nextTenMinutes / 10.0, static_cast<double>(firstMinute));
  EXPECT_LE(d.stats().outstandingItems, 2'000u);  // memory bounded: reading stopped
  EXPECT_LE(feed_->readCount(), 2'000u);
  EXPECT_EQ(d.stats().itemsDelivered, 0u);
  EXPECT_EQ(feed_->committed, 0u);

  down = false;
  run(30'000, 10);
  EXPECT_EQ(d.stats().itemsDelivered, 10'000u);
  EXPECT_EQ(feed_->committed, 10'000u);
  EXPECT_EQ(d.stats().breaker, BreakerState::kClosed);
}

TEST_F(DispatchTest, RetriesAreCappedByTheBudgetWhileFailing) {
  options_.maxEvents = 10;
  options_.breakerFailureThreshold = 1'000'000;  // keep the breaker out of the way
  options_.retryBudgetRatio = 0.1;
  options_.minRetriesPerWindow = 2;
  options_.retryBudgetWindowMs = 10'000;
  options_.backoffCapMs = 100;
  options_.maxOutstandingItems = 200;
  addEvents(1, 200, "a");
  http_.setResponder([](const HttpPost&) { return FakeHttpClient::reply(503, "busy"); });
  auto& d = make();
  run(60'000, 50);
  const auto stats = d.stats();
  EXPECT_EQ(stats.requestsSent - stats.retriesSent, 20u);  // every body sent once
  // Six 10 s windows, each allowing max(2, 0.1 x first attempts) retries.
  EXPECT_LE(stats.retriesSent, 6u * 2u + 2u);
  EXPECT_GT(stats.budgetDenied, 0u);
}

TEST_F(DispatchTest, EventIdsAndBodiesStayTheSameAcrossRetries) {
  addEvents(1, 3, "a");
  int calls = 0;
  http_.setResponder([&](const HttpPost&) {
    return ++calls < 3 ? FakeHttpClient::transportFailure(TransportError::kTimeout) : code(0);
  });
  auto& d = make();
  run(10'000);
  auto sent = http_.sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].body, sent[1].body);
  EXPECT_EQ(sent[1].body, sent[2].body);
  EXPECT_EQ(d.stats().itemsDelivered, 3u);
}

TEST_F(DispatchTest, CursorNeverPassesAnEventInFlight) {
  addEvents(1, 1'500, "a");  // body 1: 1-1000, body 2: 1001-1500 after linger
  auto& d = make();
  run(300);
  ASSERT_EQ(http_.pendingCount(), 2u);
  // The second body is answered first: the cursor must stay before the first one.
  http_.completeNext(FakeHttpClient::reply(500, "x"));  // body 1 fails
  http_.completeNext(code(0));                          // body 2 delivered
  d.runOnce();
  EXPECT_EQ(feed_->committed, 0u);
  EXPECT_EQ(d.stats().itemsDelivered, 500u);
  http_.setResponder([](const HttpPost&) { return code(0); });
  http_.completeAll(code(0));
  run(2'000);
  EXPECT_EQ(feed_->committed, 1'500u);
}

// With the real SQLite log: a dispatcher torn down with requests in flight (a crash: nothing
// committed after the last cursor write) loses nothing; a new one re-sends from the cursor.
TEST_F(DispatchTest, RestartAfterCrashResendsEverythingUnfinished) {
  store::SqliteLogOptions logOptions;
  logOptions.directory = (dir_ / "log").string();
  logOptions.clock = &clock_;
  logOptions.minFreeBytes = 0;
  auto log = store::openSqliteLog(logOptions);
  ASSERT_TRUE(log) << log.error().toString();
  store::AppendRequest request;
  for (int i = 1; i <= 2'500; ++i) {
    store::NewEvent e;
    e.source = "web";
    e.messageId = "m" + std::to_string(i);
    e.type = "track";
    e.name = "a";
    e.receivedAtMs = e.timestampMs = clock_.nowMs();
    e.json = "{}";
    request.events.push_back(e);
  }
  ASSERT_TRUE((*log)->appendSync(std::move(request)));

  std::set<std::string> delivered;
  auto deliverBody = [&](const std::string& body) {
    size_t pos = 0;
    while ((pos = body.find('"', pos)) != std::string::npos) {
      const size_t end = body.find('"', pos + 1);
      delivered.insert(body.substr(pos + 1, end - pos - 1));
      pos = end + 1;
    }
  };
  {
    auto feed = LogFeed::open(**log, "tiktok");
    ASSERT_TRUE(feed);
    Dispatcher d(options_, std::make_unique<FakeCodec>(), std::move(*feed), http_, *state_,
                 clock_, random_);
    d.runOnce();
    ASSERT_EQ(http_.pendingCount(), 2u);
    auto first = http_.pending()[0];
    http_.completeNext(code(0));
    deliverBody(first.body);
    d.runOnce();
    auto cursor = (*log)->cursor("tiktok");
    ASSERT_TRUE(cursor);
    EXPECT_EQ(*cursor, 1'000u);
    // "Crash": the dispatcher goes away with one body in flight and 500 events unsent.
  }
  // The reply to the lost request never counts.
  http_.completeAll(code(0));
  auto retained = (*log)->applyRetention(clock_.nowMs() + 1);
  ASSERT_TRUE(retained);
  EXPECT_EQ(*retained, 1'000u);  // only what the cursor passed
  http_.setResponder([&](const HttpPost& p) {
    deliverBody(p.body);
    return code(0);
  });
  {
    auto feed = LogFeed::open(**log, "tiktok");
    ASSERT_TRUE(feed);
    Dispatcher d(options_, std::make_unique<FakeCodec>(), std::move(*feed), http_, *state_,
                 clock_, random_);
    for (int i = 0; i < 100; ++i) {
      d.runOnce();
      clock_.advanceMs(10);
    }
    EXPECT_EQ(d.stats().itemsDelivered, 1'500u);
  }
  EXPECT_EQ(delivered.size(), 2'500u);
  auto cursor = (*log)->cursor("tiktok");
  ASSERT_TRUE(cursor);
  EXPECT_EQ(*cursor, 2'500u);
  (*log)->close();
}

TEST_F(DispatchTest, ThreadedDispatcherDeliversAndStopsCleanly) {
  SystemClock& real = SystemClock::instance();
  clock_.setMs(real.nowMs());
  addEvents(1, 5'000, "a");
  options_.lingerMs = 20;
  http_.setResponder([](const HttpPost&) { return code(0); });
  auto feed = std::make_unique<MemoryFeed>();
  MemoryFeed* feedPtr = feed.get();
  for (auto& e : initial_) feed->add(e);
  DefaultRandom random(1);
  Dispatcher d(options_, std::make_unique<FakeCodec>(), std::move(feed), http_, *state_, real,
               random);
  d.start();
  for (int i = 0; i < 500 && d.stats().itemsDelivered < 5'000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  d.stop();
  EXPECT_EQ(d.stats().itemsDelivered, 5'000u);
  EXPECT_EQ(feedPtr->committed, 5'000u);
}

}  // namespace
}  // namespace sluice::delivery
