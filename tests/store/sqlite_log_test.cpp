#include "store/sqlite_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "store/dedup_index.h"
#include "store/store_test_util.h"
#include "store/wal_syncer.h"

namespace sluice::store {
namespace {

using testing::makeEvent;
using testing::TempDir;

class SqliteLogTest : public ::testing::Test {
 protected:
  SqliteLogOptions options() {
    SqliteLogOptions o;
    o.directory = dir_.path();
    o.clock = &clock_;
    o.minFreeBytes = 1000;
    o.freeSpace = [this](const std::string&) -> std::optional<uint64_t> {
      return freeBytes_.load();
    };
    o.freeSpaceCheckIntervalMs = 0;
    return o;
  }

  std::unique_ptr<EventLog> open(const SqliteLogOptions& o) {
    auto log = openSqliteLog(o);
    EXPECT_TRUE(log.has_value()) << (log ? "" : log.error().toString());
    return log ? std::move(*log) : nullptr;
  }

  // A log whose next flush fails each time `failing` is set, trying to reopen every 20 ms.
  std::unique_ptr<EventLog> openWithFlushFailures(std::atomic<bool>& failing) {
    SqliteLogOptions o = options();
    o.walSync = [&failing](int fd) { return failing.exchange(false) ? EIO : syncFileData(fd); };
    o.recoveryDelayMs = 20;
    return open(o);
  }
  std::unique_ptr<EventLog> open() { return open(options()); }

  static AppendRequest request(std::vector<NewEvent> events) {
    AppendRequest r;
    r.events = std::move(events);
    return r;
  }

  // 100 events "<prefix>0".."<prefix>99" with a JSON body of `bytes` bytes each (a page or more).
  static std::vector<NewEvent> largeEvents(const std::string& prefix, size_t bytes,
                                           EpochMs receivedAtMs) {
    std::vector<NewEvent> events;
    for (int i = 0; i < 100; ++i) {
      NewEvent e = makeEvent("s", prefix + std::to_string(i), receivedAtMs);
      e.json = std::string(bytes, 'j');
      events.push_back(std::move(e));
    }
    return events;
  }

  // How many events a scan of all time visits; nullopt when the scan fails.
  static std::optional<size_t> scanCount(EventLog& log) {
    size_t seen = 0;
    auto scanned = log.scan(TimeRange{}, std::nullopt, [&seen](const StoredEvent&) {
      ++seen;
      return true;
    });
    if (!scanned) return std::nullopt;
    return seen;
  }

  // The rows `sql` selects from the log's file (integer columns), read through a connection of the
  // test's own.
  std::vector<std::vector<int64_t>> query(const char* sql) {
    std::vector<std::vector<int64_t>> rows;
    sqlite3* db = nullptr;
    EXPECT_EQ(
        sqlite3_open_v2(sqliteLogFile(dir_.path()).c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
        SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      rows.emplace_back();
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        rows.back().push_back(sqlite3_column_int64(stmt, i));
      }
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rows;
  }
  // The rows of `spans`: first seq, last seq, oldest, newest.
  std::vector<std::vector<int64_t>> spans() {
    return query("SELECT first_seq, last_seq, oldest, newest FROM spans ORDER BY first_seq");
  }

  // The messageIds a scan of `range` visits, in order.
  static std::vector<std::string> scanIds(EventLog& log, TimeRange range) {
    std::vector<std::string> ids;
    auto scanned = log.scan(range, std::nullopt, [&ids](const StoredEvent& e) {
      ids.push_back(e.messageId);
      return true;
    });
    EXPECT_TRUE(scanned.has_value()) << scanned.error().toString();
    return ids;
  }

  static std::vector<StoredEvent> all(EventLog& log) {
    auto events = log.readAfter(0, 1'000'000);
    EXPECT_TRUE(events.has_value());
    return events ? *events : std::vector<StoredEvent>{};
  }

  TempDir dir_;
  FakeClock clock_{1'700'000'000'000};
  std::atomic<uint64_t> freeBytes_{1ull << 40};
};

TEST_F(SqliteLogTest, AppendsAndReadsBackEveryField) {
  auto log = open();
  ASSERT_TRUE(log);
  NewEvent e = makeEvent("web", "m-1", 1000);
  e.timestampMs = 990;
  auto outcome = log->appendSync(request({e, makeEvent("web", "m-2", 1001)}));
  ASSERT_TRUE(outcome.has_value()) << outcome.error().toString();
  EXPECT_EQ(outcome->stored, 2u);
  EXPECT_EQ(outcome->duplicates, 0u);
  EXPECT_EQ(outcome->lastSeq, 2u);

  auto events = all(*log);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq, 1u);
  EXPECT_EQ(events[0].source, "web");
  EXPECT_EQ(events[0].messageId, "m-1");
  EXPECT_EQ(events[0].type, "track");
  EXPECT_EQ(events[0].name, "Order Completed");
  EXPECT_EQ(events[0].receivedAtMs, 1000);
  EXPECT_EQ(events[0].timestampMs, 990);
  EXPECT_EQ(events[0].json, e.json);
  EXPECT_EQ(events[1].seq, 2u);
  EXPECT_EQ(events[1].messageId, "m-2");

  EXPECT_EQ(*log->lastSeq(), 2u);
  EXPECT_EQ(*log->count(), 2u);
  auto after = log->readAfter(1, 10);
  ASSERT_TRUE(after.has_value());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].messageId, "m-2");
  // Room for a parser's padding after the text (simdjson parses it in place then).
  EXPECT_GE((*after)[0].json.capacity(), (*after)[0].json.size() + kStoredJsonSlack);
  EXPECT_TRUE(log->readAfter(2, 10)->empty());
  EXPECT_EQ(log->readAfter(0, 1)->size(), 1u);
}

TEST_F(SqliteLogTest, ReadAfterIntoOverwritesReusedEventsInPlace) {
  auto log = open();
  ASSERT_TRUE(log);
  NewEvent e = makeEvent("web", "m-1", 1000);
  e.name = "";  // an identify: no name, so a stale one must be cleared
  e.type = "identify";
  ASSERT_TRUE(log->appendSync(request({e, makeEvent("app", "m-2", 1001)})));

  // Three stale events with longer strings: two are overwritten, the third is left for reuse.
  StoredEvent stale{99, "stale-source", "stale-message-id-of-some-length", "stale-type",
                    "Stale Name Longer Than Fifteen", 5, 6, std::string(4'000, 'x')};
  std::vector<StoredEvent> out(3, stale);
  out[1].json.assign(40'000, 'y');  // far larger than the event read into it: let go
  const char* const buffer = out[0].json.data();
  auto n = log->readAfterInto(0, 10, out);
  ASSERT_TRUE(n.has_value()) << n.error().toString();
  ASSERT_EQ(*n, 2u);
  ASSERT_EQ(out.size(), 3u);  // never shrinks
  auto fresh = all(*log);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(out[i].seq, fresh[i].seq);
    EXPECT_EQ(out[i].source, fresh[i].source);
    EXPECT_EQ(out[i].messageId, fresh[i].messageId);
    EXPECT_EQ(out[i].type, fresh[i].type);
    EXPECT_EQ(out[i].name, fresh[i].name);
    EXPECT_EQ(out[i].receivedAtMs, fresh[i].receivedAtMs);
    EXPECT_EQ(out[i].timestampMs, fresh[i].timestampMs);
    EXPECT_EQ(out[i].json, fresh[i].json);
    EXPECT_GE(out[i].json.capacity(), out[i].json.size() + kStoredJsonSlack);
  }
  EXPECT_EQ(out[0].name, "");
  EXPECT_EQ(out[0].json.data(), buffer);  // the buffer was reused, not reallocated
  EXPECT_LT(out[1].json.capacity(), 8'192u);
  EXPECT_EQ(out[2].messageId, stale.messageId);

  // Growing from empty, and nothing to read.
  std::vector<StoredEvent> grown;
  ASSERT_EQ(*log->readAfterInto(1, 10, grown), 1u);
  EXPECT_EQ(grown[0].messageId, "m-2");
  ASSERT_EQ(*log->readAfterInto(2, 10, grown), 0u);
  EXPECT_EQ(grown.size(), 1u);
}

TEST_F(SqliteLogTest, SequenceNumbersAreStrictlyIncreasingAcrossAppends) {
  auto log = open();
  for (int i = 0; i < 5; ++i) {
    auto outcome = log->appendSync(
        request({makeEvent("s", "a" + std::to_string(i), i), makeEvent("s", "b" + std::to_string(i), i)}));
    ASSERT_TRUE(outcome.has_value());
    EXPECT_EQ(outcome->lastSeq, static_cast<Seq>(2 * i + 2));
  }
  auto events = all(*log);
  ASSERT_EQ(events.size(), 10u);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq, i + 1);
}

TEST_F(SqliteLogTest, ScansByTimeRangeAndSource) {
  auto log = open();
  std::vector<NewEvent> events;
  for (int i = 0; i < 2500; ++i) {
    events.push_back(makeEvent(i % 2 == 0 ? "web" : "app", "m" + std::to_string(i), 10'000 + i));
  }
  ASSERT_TRUE(log->appendSync(request(events)).has_value());

  std::vector<StoredEvent> seen;
  auto collect = [&seen](const StoredEvent& e) {
    seen.push_back(e);
    return true;
  };
  ASSERT_TRUE(log->scan(TimeRange{10'100, 12'200}, std::nullopt, collect).has_value());
  ASSERT_EQ(seen.size(), 2100u);
  EXPECT_EQ(seen.front().receivedAtMs, 10'100);
  EXPECT_EQ(seen.back().receivedAtMs, 12'199);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1].seq, seen[i].seq);

  seen.clear();
  ASSERT_TRUE(log->scan(TimeRange{}, std::string("app"), collect).has_value());
  ASSERT_EQ(seen.size(), 1250u);
  for (const auto& e : seen) EXPECT_EQ(e.source, "app");

  seen.clear();
  ASSERT_TRUE(log->scan(TimeRange{50'000, 60'000}, std::nullopt, collect).has_value());
  EXPECT_TRUE(seen.empty());

  // The visitor stops the scan.
  int visits = 0;
  ASSERT_TRUE(log->scan(TimeRange{}, std::nullopt, [&visits](const StoredEvent&) {
                   return ++visits < 3;
                 }).has_value());
  EXPECT_EQ(visits, 3);
}

TEST_F(SqliteLogTest, ScanOrdersBySeqEvenWhenReceivedAtIsNotMonotonic) {
  auto log = open();
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "a", 500), makeEvent("s", "b", 100),
                                       makeEvent("s", "c", 300), makeEvent("s", "d", 900)}))
                  .has_value());
  std::vector<std::string> ids;
  ASSERT_TRUE(log->scan(TimeRange{100, 600}, std::nullopt, [&ids](const StoredEvent& e) {
                   ids.push_back(e.messageId);
                   return true;
                 }).has_value());
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(SqliteLogTest, SpansFindEventsByTimeAcrossCommitsAndAClockThatWentBack) {
  auto log = open();
  auto batch = [](const std::string& prefix, EpochMs from, int n) {
    std::vector<NewEvent> events;
    for (int i = 0; i < n; ++i) {
      events.push_back(makeEvent("s", prefix + std::to_string(i), from + i));
    }
    return events;
  };
  ASSERT_TRUE(log->appendSync(request(batch("a", 1'000, 10))));  // seqs 1..10
  clock_.advanceMs(2'000);                                       // the next commit begins a span
  ASSERT_TRUE(log->appendSync(request(batch("b", 5'000, 10))));  // seqs 11..20
  clock_.advanceMs(100);                                         // same span
  ASSERT_TRUE(log->appendSync(request(batch("c", 200, 1))));     // seq 21, received "earlier"
  clock_.advanceMs(2'000);
  ASSERT_TRUE(log->appendSync(request(batch("d", 9'000, 1))));  // seq 22
  using Row = std::vector<int64_t>;
  EXPECT_EQ(spans(), (std::vector<Row>{
                         {1, 10, 1'000, 1'009}, {11, 21, 200, 5'009}, {22, 22, 9'000, 9'000}}));

  EXPECT_EQ(scanIds(*log, TimeRange{100, 300}), (std::vector<std::string>{"c0"}));
  EXPECT_EQ(scanIds(*log, TimeRange{1'007, 5'002}),
            (std::vector<std::string>{"a7", "a8", "a9", "b0", "b1"}));
  EXPECT_EQ(scanIds(*log, TimeRange{9'000, 9'001}), (std::vector<std::string>{"d0"}));
  EXPECT_TRUE(scanIds(*log, TimeRange{6'000, 8'000}).empty());

  // Retention is exact per event, in and out of order; a span goes once no event of it is left.
  EXPECT_EQ(*log->applyRetention(1'005), 6u);  // a0..a4 and c0
  EXPECT_EQ(spans().size(), 3u);
  EXPECT_EQ(*log->applyRetention(5'005), 10u);  // a5..a9 and b0..b4
  EXPECT_EQ(spans(), (std::vector<Row>{{11, 21, 200, 5'009}, {22, 22, 9'000, 9'000}}));
  EXPECT_EQ(scanIds(*log, TimeRange{}),
            (std::vector<std::string>{"b5", "b6", "b7", "b8", "b9", "d0"}));
  EXPECT_EQ(*log->applyRetention(10'000), 6u);
  EXPECT_TRUE(spans().empty());
  // The emptied log's current span goes on: its row comes back with the next events.
  ASSERT_TRUE(log->appendSync(request(batch("g", 9'500, 1))));  // seq 23
  EXPECT_EQ(spans(), (std::vector<Row>{{22, 23, 9'500, 9'500}}));
  EXPECT_EQ(scanIds(*log, TimeRange{9'500, 9'501}), (std::vector<std::string>{"g0"}));
  log.reset();

  // After a reopen, new events begin a span of their own and are found by time.
  log = open();
  ASSERT_TRUE(log->appendSync(request(batch("e", 20'000, 3))));
  EXPECT_EQ(spans(), (std::vector<Row>{{22, 23, 9'500, 9'500}, {24, 26, 20'000, 20'002}}));
  EXPECT_EQ(scanIds(*log, TimeRange{20'001, 30'000}), (std::vector<std::string>{"e1", "e2"}));
  // The store's clock stepping back also begins a span (else the current one would go on until
  // the clock is a second past where it began).
  clock_.advanceMs(-10);
  ASSERT_TRUE(log->appendSync(request(batch("f", 20'010, 1))));
  EXPECT_EQ(spans().size(), 3u);
}

TEST_F(SqliteLogTest, RetentionSweepsEveryEmptiedSpanEvenAboveAYoungerEvent) {
  SqliteLogOptions o = options();
  o.retentionChunkRows = 2;  // the events and the sweep both take several transactions
  auto log = open(o);
  // A span whose one event is young (received "in the future"), then four spans of old events.
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "young", 100'000)})));
  for (int i = 0; i < 4; ++i) {
    clock_.advanceMs(2'000);
    ASSERT_TRUE(log->appendSync(request({makeEvent("s", "old" + std::to_string(i), 10 + i),
                                         makeEvent("s", "x" + std::to_string(i), 20 + i)})));
  }
  ASSERT_EQ(spans().size(), 5u);
  EXPECT_EQ(*log->applyRetention(50), 8u);
  EXPECT_EQ(spans(), (std::vector<std::vector<int64_t>>{{1, 1, 100'000, 100'000}}));
  EXPECT_EQ(scanIds(*log, TimeRange{}), (std::vector<std::string>{"young"}));
  // A span partly emptied keeps its bounds, and its events left are still found.
  clock_.advanceMs(2'000);
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "p", 30), makeEvent("s", "q", 70)})));
  EXPECT_EQ(*log->applyRetention(50), 1u);
  EXPECT_EQ(spans().back(), (std::vector<int64_t>{10, 11, 30, 70}));
  EXPECT_EQ(scanIds(*log, TimeRange{60, 80}), (std::vector<std::string>{"q"}));
}

TEST_F(SqliteLogTest, MigratesAVersionTwoLogWhoseTimeIndexWasDropped) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(sqliteLogFile(dir_.path()).c_str(), &db), SQLITE_OK);
  const char* v2 =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE events(seq INTEGER PRIMARY KEY, source TEXT NOT NULL, message_id TEXT NOT NULL,"
      " type TEXT NOT NULL, name TEXT NOT NULL, received_at INTEGER NOT NULL,"
      " timestamp INTEGER NOT NULL, json TEXT NOT NULL);"
      "CREATE TABLE cursors(consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
      "CREATE TABLE quarantine(id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,"
      " received_at INTEGER NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL);"
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE dedup_keys(seq INTEGER PRIMARY KEY, first_seen INTEGER NOT NULL,"
      " keys BLOB NOT NULL);"
      "INSERT INTO events VALUES (5, 's', 'a', 'track', 'E', 300, 0, '{}');"
      "INSERT INTO events VALUES (70000, 's', 'b', 'track', 'E', 100, 0, '{}');"
      "INSERT INTO events VALUES (70001, 's', 'c', 'track', 'E', 200, 0, '{}');"
      "PRAGMA user_version=2;";
  ASSERT_EQ(sqlite3_exec(db, v2, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto log = open();
  ASSERT_TRUE(log);
  EXPECT_EQ(spans(),
            (std::vector<std::vector<int64_t>>{{5, 5, 300, 300}, {70'000, 70'001, 100, 200}}));
  EXPECT_EQ(scanIds(*log, TimeRange{150, 400}), (std::vector<std::string>{"a", "c"}));
}

TEST_F(SqliteLogTest, DeduplicatesWithinTheWindowAndNotAfter) {
  SqliteLogOptions o = options();
  o.dedupWindowMs = 60'000;
  auto log = open(o);
  auto first = log->appendSync(request({makeEvent("web", "dup", 1)}));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->stored, 1u);

  clock_.advanceMs(59'000);
  auto again = log->appendSync(request({makeEvent("web", "dup", 2)}));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->stored, 0u);
  EXPECT_EQ(again->duplicates, 1u);
  EXPECT_EQ(again->lastSeq, 1u);

  // Another source with the same messageId is a different event.
  auto other = log->appendSync(request({makeEvent("app", "dup", 3)}));
  EXPECT_EQ(other->stored, 1u);

  // Past the window (measured from the first sighting), it is stored again, and the window
  // restarts from then.
  clock_.advanceMs(1'000);
  auto later = log->appendSync(request({makeEvent("web", "dup", 4)}));
  EXPECT_EQ(later->stored, 1u);
  EXPECT_EQ(later->duplicates, 0u);
  clock_.advanceMs(30'000);
  EXPECT_EQ(log->appendSync(request({makeEvent("web", "dup", 5)}))->duplicates, 1u);

  auto events = all(*log);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].receivedAtMs, 1);
  EXPECT_EQ(events[1].receivedAtMs, 3);
  EXPECT_EQ(events[2].receivedAtMs, 4);
}

TEST_F(SqliteLogTest, DeduplicatesInsideOneRequestAndAcrossConcurrentRequests) {
  auto log = open();
  auto outcome = log->appendSync(request({makeEvent("web", "x", 1), makeEvent("web", "y", 1),
                                          makeEvent("web", "x", 2), makeEvent("web", "x", 3)}));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->stored, 2u);
  EXPECT_EQ(outcome->duplicates, 2u);

  // Two requests that land in the same group commit: exactly one stores the event.
  std::atomic<int> stored{0};
  std::atomic<int> duplicates{0};
  std::atomic<int> done{0};
  for (int i = 0; i < 2; ++i) {
    log->append(request({makeEvent("web", "z", 10)}), [&](Result<AppendOutcome> r) {
      ASSERT_TRUE(r.has_value());
      stored += static_cast<int>(r->stored);
      duplicates += static_cast<int>(r->duplicates);
      ++done;
    });
  }
  for (int i = 0; i < 5000 && done < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(done, 2);
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(duplicates, 1);
  EXPECT_EQ(*log->count(), 3u);
}

TEST_F(SqliteLogTest, DedupSurvivesReopen) {
  {
    auto log = open();
    ASSERT_TRUE(log->appendSync(request({makeEvent("web", "keep", 1)})).has_value());
  }
  auto log = open();
  EXPECT_EQ(log->appendSync(request({makeEvent("web", "keep", 2)}))->duplicates, 1u);
}

TEST_F(SqliteLogTest, DedupWindowZeroStoresEverything) {
  SqliteLogOptions o = options();
  o.dedupWindowMs = 0;
  auto log = open(o);
  auto outcome = log->appendSync(request({makeEvent("web", "x", 1), makeEvent("web", "x", 2)}));
  EXPECT_EQ(outcome->stored, 2u);
}

TEST_F(SqliteLogTest, CursorsAreDurable) {
  {
    auto log = open();
    EXPECT_EQ(*log->cursor("tiktok"), 0u);
    ASSERT_TRUE(log->setCursor("tiktok", 42).has_value());
    ASSERT_TRUE(log->setCursor("other", 7).has_value());
    ASSERT_TRUE(log->setCursor("tiktok", 43).has_value());
    EXPECT_EQ(*log->cursor("tiktok"), 43u);
    ASSERT_TRUE(log->dropCursor("other").has_value());
    EXPECT_EQ(*log->cursor("other"), 0u);
  }
  auto log = open();
  EXPECT_EQ(*log->cursor("tiktok"), 43u);
  EXPECT_EQ(*log->cursor("other"), 0u);
}

TEST_F(SqliteLogTest, RetentionDeletesOldEventsOnlyBehindEveryCursor) {
  SqliteLogOptions o = options();
  o.retentionChunkRows = 7;  // several chunks, interleaved with appends
  auto log = open(o);
  std::vector<NewEvent> events;
  for (int i = 0; i < 100; ++i) events.push_back(makeEvent("s", "m" + std::to_string(i), i));
  ASSERT_TRUE(log->appendSync(request(events)).has_value());  // seqs 1..100, receivedAt 0..99

  ASSERT_TRUE(log->setCursor("a", 30).has_value());
  ASSERT_TRUE(log->setCursor("b", 60).has_value());
  // Older than 50 and at or behind the slowest cursor (30): seqs 1..30.
  auto deleted = log->applyRetention(50);
  ASSERT_TRUE(deleted.has_value()) << deleted.error().toString();
  EXPECT_EQ(*deleted, 30u);
  auto rest = all(*log);
  ASSERT_EQ(rest.size(), 70u);
  EXPECT_EQ(rest.front().seq, 31u);

  ASSERT_TRUE(log->setCursor("a", 100).has_value());
  EXPECT_EQ(*log->applyRetention(50), 20u);  // now age decides: seqs 31..50
  EXPECT_EQ(all(*log).front().seq, 51u);

  ASSERT_TRUE(log->dropCursor("a").has_value());
  ASSERT_TRUE(log->dropCursor("b").has_value());
  // No cursors: age alone.
  EXPECT_EQ(*log->applyRetention(1000), 50u);
  EXPECT_EQ(*log->count(), 0u);
  EXPECT_EQ(*log->lastSeq(), 100u);
}

TEST_F(SqliteLogTest, SequenceNumbersAreNotReusedAfterRetentionEmptiesTheLog) {
  {
    auto log = open();
    ASSERT_TRUE(log->appendSync(request({makeEvent("s", "a", 1), makeEvent("s", "b", 2)})));
    EXPECT_EQ(*log->applyRetention(100), 2u);
  }
  auto log = open();
  EXPECT_EQ(*log->lastSeq(), 2u);
  auto outcome = log->appendSync(request({makeEvent("s", "c", 3)}));
  EXPECT_EQ(outcome->lastSeq, 3u);
  EXPECT_EQ(all(*log).front().seq, 3u);
}

TEST_F(SqliteLogTest, RetentionExpiresDedupEntriesPastTheWindow) {
  SqliteLogOptions o = options();
  o.dedupWindowMs = 1'000;
  o.retentionChunkRows = 3;
  auto log = open(o);
  std::vector<NewEvent> events;
  for (int i = 0; i < 10; ++i) events.push_back(makeEvent("s", "m" + std::to_string(i), i));
  ASSERT_TRUE(log->appendSync(request(events)));
  clock_.advanceMs(500);
  ASSERT_TRUE(log->appendSync(request({makeEvent("t", "late", 1)})));
  clock_.advanceMs(600);  // the first ten are past the window, "late" is not
  ASSERT_TRUE(log->applyRetention(0).has_value());

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(sqliteLogFile(dir_.path()).c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT seq FROM dedup_keys", -1, &stmt, nullptr), SQLITE_OK);
  std::vector<int64_t> left;
  while (sqlite3_step(stmt) == SQLITE_ROW) left.push_back(sqlite3_column_int64(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  EXPECT_EQ(left, std::vector<int64_t>{11});  // the row of "late", the 11th event
  EXPECT_EQ(log->appendSync(request({makeEvent("t", "late", 2)}))->duplicates, 1u);
  // The expired ones are new again.
  EXPECT_EQ(log->appendSync(request({makeEvent("s", "m0", 3)}))->stored, 1u);
}

TEST_F(SqliteLogTest, DedupWindowSurvivesReopenWithItsAge) {
  SqliteLogOptions o = options();
  o.dedupWindowMs = 10'000;
  {
    auto log = open(o);
    ASSERT_TRUE(log->appendSync(request({makeEvent("s", "old", 1)})));
    clock_.advanceMs(6'000);
    ASSERT_TRUE(log->appendSync(request({makeEvent("s", "young", 2)})));
  }
  clock_.advanceMs(5'000);  // "old" was first seen 11 s ago, "young" 5 s ago
  auto log = open(o);
  auto outcome = log->appendSync(request({makeEvent("s", "old", 3), makeEvent("s", "young", 3)}));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->stored, 1u);
  EXPECT_EQ(outcome->duplicates, 1u);
  EXPECT_EQ(all(*log).back().messageId, "old");
}

TEST_F(SqliteLogTest, TheWindowKeepsOnlyTheNewestKeysBeyondItsCap) {
  SqliteLogOptions o = options();
  o.dedupMaxEvents = 5;
  {
    auto log = open(o);
    std::vector<NewEvent> events;
    for (int i = 1; i <= 10; ++i) events.push_back(makeEvent("s", "m" + std::to_string(i), i));
    ASSERT_TRUE(log->appendSync(request(events)));  // seqs 1..10
    // Past the cap the oldest keys left the window; the newest five are still in it.
    auto outcome = log->appendSync(request({makeEvent("s", "m1", 11), makeEvent("s", "m10", 11)}));
    ASSERT_TRUE(outcome.has_value());
    EXPECT_EQ(outcome->stored, 1u);
    EXPECT_EQ(outcome->duplicates, 1u);
  }
  // The same after reopening (seq 11 is now m1 again; the cap keeps seqs 7..11).
  auto log = open(o);
  auto outcome = log->appendSync(request({makeEvent("s", "m6", 12), makeEvent("s", "m9", 12),
                                          makeEvent("s", "m1", 12)}));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->stored, 1u);      // m6 (seq 6) is out of the window
  EXPECT_EQ(outcome->duplicates, 2u);  // m9 (seq 9) and m1 (seq 11) are in it
}

TEST_F(SqliteLogTest, AFailedTransactionLeavesNoDedupTrace) {
  SqliteLogOptions o = options();
  o.maxPageCountForTesting = 40;
  o.ioErrorRetryAfterMs = 1'000;
  auto log = open(o);
  std::vector<NewEvent> big = largeEvents("big", 4000, 2);
  ASSERT_FALSE(log->appendSync(request(big)).has_value());  // SQLITE_FULL part-way through
  EXPECT_FALSE(log->writeHealth().writable);
  EXPECT_NE(log->writeHealth().failure.find("storage failure"), std::string::npos);
  clock_.advanceMs(1'000);
  // The next append may try the disk again; the failure still shows until one succeeds.
  EXPECT_TRUE(log->writeHealth().writable);
  EXPECT_NE(log->writeHealth().failure.find("storage failure"), std::string::npos);
  // The first events of the failed request were in the index before the failure; they must not
  // be taken for duplicates now.
  auto retried = log->appendSync(request({big[0], big[1]}));
  ASSERT_TRUE(retried.has_value()) << retried.error().toString();
  EXPECT_EQ(retried->stored, 2u);
  EXPECT_EQ(retried->duplicates, 0u);
  EXPECT_TRUE(log->writeHealth().writable);
  EXPECT_EQ(log->writeHealth().failure, "");
}

TEST_F(SqliteLogTest, AnyWriteThatCommitsEndsTheFailureStateNotOnlyAnAppend) {
  SqliteLogOptions o = options();
  o.maxPageCountForTesting = 40;
  o.ioErrorRetryAfterMs = 1'000;
  auto log = open(o);
  ASSERT_TRUE(log->setCursor("tiktok", 0));
  ASSERT_FALSE(log->appendSync(request(largeEvents("big", 4000, 2))).has_value());
  EXPECT_FALSE(log->writeHealth().failure.empty());
  clock_.advanceMs(1'000);
  // No ingest traffic; delivery moves its cursor, which rewrites a page that exists.
  ASSERT_TRUE(log->setCursor("tiktok", 0));
  EXPECT_EQ(log->writeHealth().failure, "");
}

TEST_F(SqliteLogTest, MigratesAVersionOneLogAndItsDedupWindow) {
  const std::string file = sqliteLogFile(dir_.path());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  const EpochMs now = clock_.nowMs();
  const std::string v1 =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE events(seq INTEGER PRIMARY KEY, source TEXT NOT NULL, message_id TEXT NOT NULL,"
      " type TEXT NOT NULL, name TEXT NOT NULL, received_at INTEGER NOT NULL,"
      " timestamp INTEGER NOT NULL, json TEXT NOT NULL);"
      "CREATE INDEX events_received_at ON events(received_at);"
      "CREATE TABLE cursors(consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
      "CREATE TABLE quarantine(id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,"
      " received_at INTEGER NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL);"
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
      "INSERT INTO events VALUES (1, 's', 'stale', 'track', 'E', " +
      std::to_string(now - 25 * 3'600'000LL) + ", 0, '{}');"
      "INSERT INTO events VALUES (2, 's', 'recent', 'track', 'E', " +
      std::to_string(now - 3'600'000LL) + ", 0, '{}');"
      "PRAGMA user_version=1;";
  ASSERT_EQ(sqlite3_exec(db, v1.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  std::ofstream(dir_.path() + "/dedup.db") << "version 1 dedup state";

  auto log = open();  // default window: 24 h
  auto outcome = log->appendSync(request({makeEvent("s", "recent", 1), makeEvent("s", "stale", 1)}));
  ASSERT_TRUE(outcome.has_value()) << outcome.error().toString();
  EXPECT_EQ(outcome->duplicates, 1u);  // "recent" is inside the window
  EXPECT_EQ(outcome->stored, 1u);      // "stale" is not
  EXPECT_EQ(*log->lastSeq(), 3u);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/dedup.db"));

  // Migration 2 -> 3: the events already there get their span from the received_at index, which
  // is then dropped; events found by time on both sides of the upgrade.
  const EpochMs stale = now - 25 * 3'600'000LL;
  const EpochMs recent = now - 3'600'000LL;
  using Row = std::vector<int64_t>;
  EXPECT_EQ(spans(), (std::vector<Row>{{1, 2, stale, recent}, {3, 3, 1, 1}}));
  EXPECT_EQ(scanIds(*log, TimeRange{recent, now}), (std::vector<std::string>{"recent"}));
  EXPECT_EQ(scanIds(*log, TimeRange{0, 2}), (std::vector<std::string>{"stale"}));
  EXPECT_EQ(query("SELECT count(*) FROM sqlite_master WHERE name = 'events_received_at'"),
            (std::vector<std::vector<int64_t>>{{0}}));
}

TEST_F(SqliteLogTest, ThePassiveCheckpointerCopiesTheWalIntoTheDatabase) {
  SqliteLogOptions o = options();
  o.checkpointBytes = 256 << 10;  // ~350 KB is written below: over this, under the writer's 4x
  auto log = open(o);
  ASSERT_TRUE(log->appendSync(request(largeEvents("page", 3500, 1))));
  // Copied by the checkpointer thread while the log stays open.
  const auto file = sqliteLogFile(dir_.path());
  for (int i = 0; i < 500 && std::filesystem::file_size(file) < 300'000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(std::filesystem::file_size(file), 300'000u);
}

// How many of the file's pages are in the page cache (mincore over a read-only mapping).
size_t residentPages(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  struct stat st {};
  ::fstat(fd, &st);
  const auto size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  EXPECT_NE(map, MAP_FAILED);
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in((size + page - 1) / page);
  EXPECT_EQ(::mincore(map, size, in.data()), 0);
  ::munmap(map, size);
  size_t resident = 0;
  for (unsigned char c : in) resident += c & 1;
  return resident;
}

TEST(FileSyncTest, DropCachedPagesSendsTheNextReadToTheDisk) {
  TempDir dir;
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir.path().c_str(), &fs), 0);
  if (fs.f_type == TMPFS_MAGIC) GTEST_SKIP() << "tmpfs has no disk to read from";
  const std::string path = dir.path() + "/file";
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(1 << 20, 'w');
  }
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_EQ(syncFileData(fd), 0);  // clean pages, as after a flush (or a failed writeback)
  ::close(fd);
  EXPECT_GT(residentPages(path), 0u);
  EXPECT_TRUE(dropCachedPages(path));
  EXPECT_EQ(residentPages(path), 0u);
  EXPECT_TRUE(dropCachedPages(dir.path() + "/absent"));
}

TEST(WalSyncerTest, RecoverFlushesTheFileNowAtItsPathAndThenForgetsTheFailure) {
  TempDir dir;
  const std::string path = dir.path() + "/events.db-wal";
  std::ofstream(path) << "first";
  std::atomic<bool> failing{true};
  std::atomic<ino_t> synced{0};
  auto opened = WalSyncer::open(path, [&](int fd) {
    struct stat info {};
    if (::fstat(fd, &info) == 0) synced = info.st_ino;
    return failing.load() ? EIO : 0;
  });
  ASSERT_TRUE(opened.has_value());
  WalSyncer& syncer = **opened;
  auto submitted = [&syncer] {
    std::promise<bool> acknowledged;
    syncer.submit([&acknowledged](Result<void> r) { acknowledged.set_value(r.has_value()); });
    return acknowledged.get_future().get();
  };
  EXPECT_FALSE(submitted());
  ASSERT_TRUE(syncer.failure().has_value());
  EXPECT_FALSE(syncer.recover().has_value());  // the disk still fails: so does the recovery
  EXPECT_TRUE(syncer.failure().has_value());

  // Another file at the path now (the old one was removed): that one is flushed.
  std::filesystem::remove(path);
  std::ofstream(path) << "second";
  struct stat now {};
  ASSERT_EQ(::stat(path.c_str(), &now), 0);
  failing = false;
  ASSERT_TRUE(syncer.recover().has_value());
  EXPECT_EQ(synced.load(), now.st_ino);
  EXPECT_FALSE(syncer.failure().has_value());
  EXPECT_TRUE(submitted());
  EXPECT_EQ(syncer.stats().failures, 2u);
}

TEST(WalSyncerTest, RecoverWaitsForTheCompletionsSubmittedBeforeAndTheyGetTheFailure) {
  TempDir dir;
  const std::string path = dir.path() + "/events.db-wal";
  std::ofstream(path) << "wal";
  std::atomic<bool> failing{true};
  auto opened = WalSyncer::open(path, [&](int) { return failing.load() ? EIO : 0; });
  ASSERT_TRUE(opened.has_value());
  WalSyncer& syncer = **opened;
  std::promise<void> running;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::mutex mutex;
  std::vector<bool> results;
  syncer.submit([&](Result<void> r) {  // its flush fails; it then blocks the syncer
    {
      std::lock_guard lock(mutex);
      results.push_back(r.has_value());
    }
    running.set_value();
    released.wait();
  });
  running.get_future().wait();
  syncer.submit([&](Result<void> r) {  // queued behind it, before recover()
    std::lock_guard lock(mutex);
    results.push_back(r.has_value());
  });
  failing = false;
  std::atomic<bool> recovered{false};
  std::thread recovering([&] {
    EXPECT_TRUE(syncer.recover().has_value());
    recovered = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(recovered.load());  // still waiting for the completions submitted before it
  release.set_value();
  recovering.join();
  std::lock_guard lock(mutex);
  // Both completions were owed to flushes before the recovery: both got the failure.
  EXPECT_EQ(results, (std::vector<bool>{false, false}));
  EXPECT_FALSE(syncer.failure().has_value());
}

TEST(DedupIndexTest, FindsWhatWasPutAboveTheFloorAcrossGrowth) {
  DedupIndex index;
  constexpr Seq kCount = 200'000;
  for (Seq seq = 1; seq <= kCount; ++seq) {
    index.put(dedupKey("s", "m" + std::to_string(seq)), seq);
  }
  EXPECT_EQ(index.find(dedupKey("s", "m1")), 1u);
  EXPECT_EQ(index.find(dedupKey("s", "m123456")), 123'456u);
  EXPECT_EQ(index.find(dedupKey("s", "absent")), 0u);
  EXPECT_EQ(index.find(dedupKey("t", "m1")), 0u);  // the source is part of the key
  index.put(dedupKey("s", "m1"), kCount + 1);      // seen again after expiry: moves up
  index.setFloor(kCount / 2);
  EXPECT_EQ(index.find(dedupKey("s", "m2")), 0u);
  EXPECT_EQ(index.find(dedupKey("s", "m1")), kCount + 1);
  EXPECT_EQ(index.find(dedupKey("s", "m150000")), 150'000u);
  // Expired slots are reclaimed when the table next rebuilds instead of growing it forever.
  const size_t before = index.memoryBytes();
  for (Seq seq = kCount + 2; seq <= kCount + 120'000; ++seq) {
    index.put(dedupKey("s", "n" + std::to_string(seq)), seq);
  }
  EXPECT_LE(index.memoryBytes(), before);
  EXPECT_EQ(index.find(dedupKey("s", "m199999")), 199'999u);
}

TEST(DedupIndexTest, KeysAreStableAndSeparateSourceFromMessageId) {
  EXPECT_EQ(dedupKey("web", "abc"), dedupKey("web", "abc"));
  EXPECT_NE(dedupKey("web", "abc"), dedupKey("webabc", ""));
  EXPECT_NE(dedupKey("we", "babc"), dedupKey("web", "abc"));
  EXPECT_NE(dedupKey("", ""), 0u);
}

TEST(DedupTimelineTest, FloorIsTheLastSeqFirstSeenAtOrBeforeTheCutoff) {
  DedupTimeline timeline(24 * 3'600'000);  // a day: stretches of a second
  timeline.note(1'000, 10);
  timeline.note(1'500, 12);  // same second: one stretch ending at 1.5 s
  timeline.note(5'000, 20);
  EXPECT_EQ(timeline.advance(999), 0u);
  EXPECT_EQ(timeline.advance(1'499), 0u);
  EXPECT_EQ(timeline.advance(1'500), 12u);
  EXPECT_EQ(timeline.advance(4'999), 12u);
  EXPECT_EQ(timeline.advance(6'000), 20u);

  DedupTimeline fine(1'000);  // a one-second window: stretches of a millisecond
  fine.note(1'000, 1);
  fine.note(1'001, 2);
  EXPECT_EQ(fine.advance(1'000), 1u);
}

TEST_F(SqliteLogTest, QuarantineIsStoredListedNewestFirstAndExpires) {
  auto log = open();
  AppendRequest r;
  r.events.push_back(makeEvent("web", "ok", 5));
  for (int i = 0; i < 3; ++i) {
    r.rejected.push_back(QuarantinedEvent{0, "web", 10 + i, "missing userId", "{\"i\":" +
                                                                               std::to_string(i) + "}"});
  }
  auto outcome = log->appendSync(std::move(r));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->stored, 1u);
  EXPECT_EQ(outcome->quarantined, 3u);

  auto list = log->listQuarantine(10, 0);
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].payload, "{\"i\":2}");
  EXPECT_EQ((*list)[0].reason, "missing userId");
  EXPECT_EQ((*list)[0].source, "web");
  EXPECT_EQ((*list)[0].receivedAtMs, 12);
  EXPECT_GT((*list)[0].id, (*list)[1].id);
  auto page = log->listQuarantine(10, (*list)[1].id);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].payload, "{\"i\":0}");

  EXPECT_EQ(*log->applyRetention(12), 1u);  // the event at 5; quarantine rows at 10 and 11
  list = log->listQuarantine(10, 0);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].receivedAtMs, 12);
}

TEST_F(SqliteLogTest, QuarantinePayloadIsTruncatedToTheBound) {
  SqliteLogOptions o = options();
  o.maxQuarantinePayloadBytes = 16;
  auto log = open(o);
  AppendRequest r;
  r.rejected.push_back(QuarantinedEvent{0, "web", 1, "too big", std::string(100, 'x')});
  ASSERT_TRUE(log->appendSync(std::move(r)));
  EXPECT_EQ(log->listQuarantine(1, 0)->at(0).payload, std::string(16, 'x'));
}

TEST_F(SqliteLogTest, GroupCommitWithManyConcurrentAppenders) {
  auto log = open();
  constexpr int kThreads = 8;
  constexpr int kRequests = 200;
  constexpr int kPerRequest = 5;
  std::mutex mutex;
  std::set<Seq> lastSeqs;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        std::vector<NewEvent> events;
        for (int k = 0; k < kPerRequest; ++k) {
          events.push_back(makeEvent("s", std::to_string(t) + "-" + std::to_string(i) + "-" +
                                              std::to_string(k), i));
        }
        auto outcome = log->appendSync(request(std::move(events)));
        if (!outcome || outcome->stored != kPerRequest) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mutex);
        lastSeqs.insert(outcome->lastSeq);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  const size_t total = kThreads * kRequests * kPerRequest;
  EXPECT_EQ(*log->count(), total);
  EXPECT_EQ(*log->lastSeq(), total);
  // Requests shared commits: fewer distinct commit points than requests (8 threads waiting on
  // one writer make this all but certain), and the last one saw everything.
  EXPECT_LT(lastSeqs.size(), static_cast<size_t>(kThreads * kRequests));
  EXPECT_EQ(*lastSeqs.rbegin(), total);
  auto events = all(*log);
  std::set<std::string> ids;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, i + 1);
    ids.insert(events[i].messageId);
  }
  EXPECT_EQ(ids.size(), total);
}

TEST_F(SqliteLogTest, RefusesWritesBelowTheFreeSpaceFloorAndRecovers) {
  auto log = open();
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "before", 1)})));
  EXPECT_TRUE(log->writeHealth().writable);

  freeBytes_ = 999;  // below the floor of 1000
  WriteHealth health = log->writeHealth();
  EXPECT_FALSE(health.writable);
  EXPECT_NE(health.reason.find("free disk space"), std::string::npos);
  EXPECT_GT(health.retryAfterMs, 0);
  AppendRequest r = request({makeEvent("s", "refused", 2)});
  r.rejected.push_back(QuarantinedEvent{0, "s", 2, "bad", "x"});
  auto refused = log->appendSync(std::move(r));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(*log->count(), 1u);
  EXPECT_TRUE(log->listQuarantine(10, 0)->empty());
  // Cursors still move (they free space, never fill it).
  EXPECT_TRUE(log->setCursor("d", 1).has_value());

  freeBytes_ = 1000;
  EXPECT_TRUE(log->writeHealth().writable);
  auto accepted = log->appendSync(request({makeEvent("s", "refused", 3)}));
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->stored, 1u);  // the refused attempt left no dedup trace
}

TEST_F(SqliteLogTest, StorageFullFailsTheWholeRequestAndMarksTheStoreUnwritable) {
  SqliteLogOptions o = options();
  o.maxPageCountForTesting = 40;  // 320 KB with 8 KB pages
  o.ioErrorRetryAfterMs = 1'000;
  auto log = open(o);
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "small", 1)})));
  std::vector<NewEvent> big = largeEvents("big", 4000, 2);
  auto failed = log->appendSync(request(big));
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kResourceExhausted);  // SQLITE_FULL
  EXPECT_EQ(*log->count(), 1u);  // nothing of the failed request

  WriteHealth health = log->writeHealth();
  EXPECT_FALSE(health.writable);
  EXPECT_GT(health.retryAfterMs, 0);
  EXPECT_LE(health.retryAfterMs, 1'000);
  // Fails fast while the store is marked unwritable, even for a request that would fit.
  auto fast = log->appendSync(request({makeEvent("s", "fits", 3)}));
  ASSERT_FALSE(fast.has_value());
  EXPECT_EQ(fast.error().code, ErrorCode::kResourceExhausted);

  // After the retry interval the next write is attempted; its success clears the state.
  clock_.advanceMs(1'000);
  EXPECT_TRUE(log->writeHealth().writable);
  auto fits = log->appendSync(request({makeEvent("s", "fits", 4)}));
  ASSERT_TRUE(fits.has_value()) << fits.error().toString();
  EXPECT_TRUE(log->writeHealth().writable);
  EXPECT_EQ(*log->count(), 2u);
}

// A WAL flush that, while held, blocks each call until let go: what the writer commits meanwhile
// is not on disk yet.
class HeldSync {
 public:
  SyncFunction function() {
    return [this](int fd) {
      std::unique_lock lock(mutex_);
      if (held_) {
        ++waiting_;
        changed_.notify_all();
        changed_.wait(lock, [this] { return !held_; });
      }
      return syncFileData(fd);
    };
  }
  void hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  // Returns once a flush is blocked (so the transaction before it has committed); false if none
  // is within 10 s.
  bool awaitBlockedFlush() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [this] { return waiting_ > 0; });
  }
  void letGo() {
    std::lock_guard lock(mutex_);
    held_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  int waiting_ = 0;
};

// Lets a held flush go when the test ends, however it ends (before the futures and the log that
// wait for it are destroyed).
struct LetGoAtExit {
  HeldSync& flush;
  ~LetGoAtExit() { flush.letGo(); }
};

TEST_F(SqliteLogTest, NothingIsAcknowledgedOrReadBeforeTheWalIsOnDisk) {
  HeldSync flush;
  std::promise<Result<AppendOutcome>> stored;
  std::promise<Result<AppendOutcome>> repeated;
  SqliteLogOptions o = options();
  o.walSync = flush.function();
  o.gatherWhileFlushingEvents = 0;  // the repeat and the cursor commit while the flush is held
  auto log = open(o);
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "first", 1)})));

  flush.hold();
  log->append(request({makeEvent("s", "a", 2)}),
              [&stored](Result<AppendOutcome> r) { stored.set_value(std::move(r)); });
  ASSERT_TRUE(flush.awaitBlockedFlush());  // "a" is committed, its flush has begun and is held
  const uint64_t commits = log->flushStats().commits;
  // A repeat of an event that is committed but not yet on disk waits for that event's flush too.
  // Each is committed (the writer does not gather here) and still not acknowledged.
  const auto awaitCommits = [&log](uint64_t count) {
    for (int i = 0; i < 1'000 && log->flushStats().commits < count; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return log->flushStats().commits >= count;
  };
  log->append(request({makeEvent("s", "a", 3)}),
              [&repeated](Result<AppendOutcome> r) { repeated.set_value(std::move(r)); });
  LetGoAtExit release{flush};
  ASSERT_TRUE(awaitCommits(commits + 1));
  auto cursor = std::async(std::launch::async, [&log] { return log->setCursor("c", 1); });
  ASSERT_TRUE(awaitCommits(commits + 2));
  auto storedDone = stored.get_future();
  auto repeatedDone = repeated.get_future();
  EXPECT_EQ(storedDone.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(repeatedDone.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  EXPECT_EQ(cursor.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  EXPECT_EQ(*log->lastSeq(), 1u);
  EXPECT_EQ(all(*log).size(), 1u);
  EXPECT_EQ(scanCount(*log), 1u);

  flush.letGo();
  auto first = storedDone.get();
  ASSERT_TRUE(first.has_value()) << first.error().toString();
  EXPECT_EQ(first->stored, 1u);
  auto second = repeatedDone.get();
  ASSERT_TRUE(second.has_value()) << second.error().toString();
  EXPECT_EQ(second->duplicates, 1u);
  EXPECT_TRUE(cursor.get().has_value());
  EXPECT_EQ(*log->lastSeq(), 2u);
  EXPECT_EQ(all(*log).size(), 2u);
}

TEST_F(SqliteLogTest, TheFlushIsOfTheWalSqliteWrites) {
  std::mutex mutex;
  std::set<ino_t> flushed;
  SqliteLogOptions o = options();
  o.walSync = [&](int fd) {
    struct stat info {};
    if (::fstat(fd, &info) == 0) {
      std::lock_guard lock(mutex);
      flushed.insert(info.st_ino);
    }
    return syncFileData(fd);
  };
  auto log = open(o);
  ASSERT_TRUE(log->appendSync(request(largeEvents("e", 500, 1))));
  struct stat wal {};
  ASSERT_EQ(::stat((sqliteLogFile(dir_.path()) + "-wal").c_str(), &wal), 0);
  std::lock_guard lock(mutex);
  EXPECT_EQ(flushed, std::set<ino_t>{wal.st_ino});
  // Counted: the flush on open and at least the one that acknowledged the append.
  FlushStats stats = log->flushStats();
  EXPECT_GE(stats.flushes, 2u);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_GT(stats.seconds, 0.0);
}

TEST_F(SqliteLogTest, AFailedWalFlushFailsItsAppendsAndRefusesWritesUntilReopened) {
  std::atomic<bool> failing{false};
  SqliteLogOptions o = options();
  o.walSync = [&failing](int fd) {
    if (failing) return EIO;
    return syncFileData(fd);
  };
  o.recoveryDelayMs = 600'000;  // not within this test (see the next one)
  auto log = open(o);
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "kept", 1)})));

  failing = true;
  auto lost = log->appendSync(request({makeEvent("s", "lost", 2)}));
  ASSERT_FALSE(lost.has_value());
  EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(lost.error().message.find("events.db-wal"), std::string::npos) << lost.error().message;
  EXPECT_NE(lost.error().message.find("reopened"), std::string::npos) << lost.error().message;

  // A later flush might succeed, but the WAL may already miss frames that came before.
  failing = false;
  auto refused = log->appendSync(request({makeEvent("s", "later", 3)}));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(log->setCursor("c", 1).has_value());
  EXPECT_EQ(*log->cursor("c"), 0u);  // not written either
  EXPECT_EQ(log->flushStats().failures, 1u);
  WriteHealth health = log->writeHealth();
  EXPECT_FALSE(health.writable);
  EXPECT_NE(health.reason.find("flushing"), std::string::npos) << health.reason;
  EXPECT_GT(health.retryAfterMs, 0);
  EXPECT_EQ(*log->lastSeq(), 1u);  // what was never on disk is not read
  EXPECT_EQ(all(*log).size(), 1u);
  log->close();
  // Closed without copying the WAL into the database: its cached pages may not be what the disk
  // holds, so the next open reads it from disk.
  const std::string wal = sqliteLogFile(dir_.path()) + "-wal";
  ASSERT_TRUE(std::filesystem::exists(wal));
  EXPECT_GT(std::filesystem::file_size(wal), 0u);

  auto reopened = open();
  ASSERT_TRUE(reopened);
  ASSERT_TRUE(reopened->appendSync(request({makeEvent("s", "after", 4)})));
  EXPECT_TRUE(reopened->writeHealth().writable);
}

TEST_F(SqliteLogTest, SpacedCommitsGatherWhatArrivesMeanwhileIntoOneTransaction) {
  SqliteLogOptions o = options();
  // Long enough that a slow fsync on a busy machine does not look like waiting for it.
  o.commitIntervalUs = 1'000'000;
  auto log = open(o);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "first", 1)})));  // at once: none before
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));

  constexpr int kAppends = 10;
  std::mutex mutex;
  std::condition_variable done;
  std::vector<AppendOutcome> outcomes;
  for (int i = 0; i < kAppends; ++i) {
    log->append(request({makeEvent("s", "m" + std::to_string(i), 1)}),
                [&](Result<AppendOutcome> r) {
                  std::lock_guard lock(mutex);
                  EXPECT_TRUE(r.has_value());
                  if (r) outcomes.push_back(*r);
                  done.notify_one();
                });
  }
  std::unique_lock lock(mutex);
  ASSERT_TRUE(
      done.wait_for(lock, std::chrono::seconds(10), [&] { return outcomes.size() == kAppends; }));
  // One transaction after the interval: every append reports its last seq.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1'000));
  for (const AppendOutcome& outcome : outcomes) EXPECT_EQ(outcome.lastSeq, 1u + kAppends);
}

// Collects the outcomes of asynchronous appends.
struct Outcomes {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Result<AppendOutcome>> results;

  std::function<void(Result<AppendOutcome>)> callback() {
    return [this](Result<AppendOutcome> r) {
      std::lock_guard lock(mutex);
      results.push_back(std::move(r));
      changed.notify_all();
    };
  }
  size_t size() {
    std::lock_guard lock(mutex);
    return results.size();
  }
  bool waitFor(size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, std::chrono::seconds(10), [&] { return results.size() >= n; });
  }
};

TEST_F(SqliteLogTest, SmallCommitsWaitBehindAFlushUnderWayAndBecomeOne) {
  HeldSync flush;
  Outcomes outcomes;  // outlives the log, which may still call back as it closes
  SqliteLogOptions o = options();
  o.walSync = flush.function();
  o.gatherMaxWaitMs = 10'000;  // the flush ends first
  auto log = open(o);
  LetGoAtExit letGoAtExit{flush};
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "first", 1)})));

  const uint64_t commitsBefore = log->flushStats().commits;
  flush.hold();
  log->append(request({makeEvent("s", "flushing", 1)}), outcomes.callback());
  ASSERT_TRUE(flush.awaitBlockedFlush());
  constexpr int kAppends = 10;
  for (int i = 0; i < kAppends; ++i) {
    log->append(request({makeEvent("s", "m" + std::to_string(i), 1)}), outcomes.callback());
  }
  // Nothing more is committed while the flush is under way (count() reads what is committed).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(*log->count(), 2u);
  EXPECT_EQ(outcomes.size(), 0u);

  flush.letGo();
  ASSERT_TRUE(outcomes.waitFor(1 + kAppends));
  std::lock_guard lock(outcomes.mutex);
  ASSERT_TRUE(outcomes.results[0].has_value());
  EXPECT_EQ(outcomes.results[0]->lastSeq, 2u);
  for (int i = 1; i <= kAppends; ++i) {  // one transaction, after the flush
    ASSERT_TRUE(outcomes.results[i].has_value());
    EXPECT_EQ(outcomes.results[i]->stored, 1u);
    EXPECT_EQ(outcomes.results[i]->lastSeq, 2u + kAppends);
  }
  EXPECT_EQ(log->flushStats().commits, commitsBefore + 2);
}

TEST_F(SqliteLogTest, EnoughQueuedEventsAreCommittedWithoutWaitingForTheFlush) {
  HeldSync flush;
  Outcomes outcomes;
  SqliteLogOptions o = options();
  o.walSync = flush.function();
  o.gatherWhileFlushingEvents = 4;
  o.gatherMaxWaitMs = 10'000;
  auto log = open(o);
  LetGoAtExit letGoAtExit{flush};
  flush.hold();
  log->append(request({makeEvent("s", "flushing", 1)}), outcomes.callback());
  ASSERT_TRUE(flush.awaitBlockedFlush());
  for (int i = 0; i < 3; ++i) {
    log->append(request({makeEvent("s", "m" + std::to_string(i), 1)}), outcomes.callback());
  }
  // Three: held back.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(*log->count(), 1u);
  // The fourth: all four are written while the flush is still held, and acknowledged after it.
  log->append(request({makeEvent("s", "m3", 1)}), outcomes.callback());
  bool committed = false;
  for (int i = 0; i < 1000 && !committed; ++i) {
    committed = *log->count() == 5u;
    if (!committed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(committed);
  EXPECT_EQ(outcomes.size(), 0u);
  flush.letGo();
  ASSERT_TRUE(outcomes.waitFor(5));
  std::lock_guard lock(outcomes.mutex);
  for (const auto& outcome : outcomes.results) EXPECT_TRUE(outcome.has_value());
}

// Appends `id` until one is acknowledged (the log recovers in the background), at most ~10 s.
Result<AppendOutcome> appendUntilAcknowledged(EventLog& log, const NewEvent& event) {
  Result<AppendOutcome> outcome = fail(ErrorCode::kUnavailable, "not tried");
  for (int i = 0; i < 1000 && !outcome; ++i) {
    AppendRequest r;
    r.events = {event};
    outcome = log.appendSync(std::move(r));
    if (!outcome) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return outcome;
}

TEST_F(SqliteLogTest, AfterAFailedFlushTheLogReopensFromDiskAndTakesWritesAgain) {
  std::atomic<int> failures{0};  // how many of the next flushes fail
  SqliteLogOptions o = options();
  o.walSync = [&failures](int fd) {
    if (failures.load() > 0) {
      --failures;
      return EIO;
    }
    return syncFileData(fd);
  };
  o.recoveryDelayMs = 20;
  auto log = open(o);
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "kept", 1)})));
  ASSERT_TRUE(log->setCursor("c", 1));

  failures = 2;  // the flush of the next append, and the one of the first try to recover
  auto lost = log->appendSync(request({makeEvent("s", "lost", 2)}));
  ASSERT_FALSE(lost.has_value());
  EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable);

  // The client's retry of the refused event, acknowledged once the log has reopened (the second
  // try): stored, or found stored already if its transaction was on disk after all.
  auto retried = appendUntilAcknowledged(*log, makeEvent("s", "lost", 2));
  ASSERT_TRUE(retried.has_value()) << retried.error().toString();
  EXPECT_EQ(retried->stored + retried->duplicates, 1u);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(log->flushStats().failures, 2u);
  EXPECT_TRUE(log->writeHealth().writable);

  // Everything acknowledged is there, once; cursors, reads and de-duplication work as before.
  auto later = log->appendSync(request({makeEvent("s", "later", 3), makeEvent("s", "kept", 1)}));
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->stored, 1u);
  EXPECT_EQ(later->duplicates, 1u);
  std::multiset<std::string> ids;
  for (const StoredEvent& e : all(*log)) ids.insert(e.messageId);
  EXPECT_EQ(ids, (std::multiset<std::string>{"kept", "lost", "later"}));
  EXPECT_EQ(*log->cursor("c"), 1u);
  ASSERT_TRUE(log->setCursor("c", 2));
  EXPECT_EQ(*log->cursor("c"), 2u);
  EXPECT_EQ(*log->count(), 3u);
}

TEST_F(SqliteLogTest, AfterAFailedFlushTheLogReadsTheWalAsTheDiskHoldsIt) {
  // The failed flush loses the WAL's unflushed tail, as a disk that dropped those pages would.
  std::atomic<bool> failNext{false};
  std::atomic<off_t> flushedSize{0};
  SqliteLogOptions o = options();
  o.walSync = [&](int fd) {
    if (failNext.exchange(false)) {
      EXPECT_EQ(::ftruncate(fd, flushedSize.load()), 0);
      return EIO;
    }
    const int error = syncFileData(fd);
    struct stat info {};
    if (error == 0 && ::fstat(fd, &info) == 0) flushedSize = info.st_size;
    return error;
  };
  o.recoveryDelayMs = 20;
  auto log = open(o);
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "kept", 1)})));
  failNext = true;
  ASSERT_FALSE(log->appendSync(request({makeEvent("s", "lost", 2)})).has_value());

  // Reopened, the log holds only what reached the disk: the retry is stored again (seq 2), not
  // taken for a duplicate of a copy that is gone.
  auto retried = appendUntilAcknowledged(*log, makeEvent("s", "lost", 2));
  ASSERT_TRUE(retried.has_value()) << retried.error().toString();
  EXPECT_EQ(retried->stored, 1u);
  EXPECT_EQ(retried->duplicates, 0u);
  EXPECT_EQ(*log->lastSeq(), 2u);
  std::vector<std::string> ids;
  for (const StoredEvent& e : all(*log)) ids.push_back(e.messageId);
  EXPECT_EQ(ids, (std::vector<std::string>{"kept", "lost"}));
  log->close();
  auto reopened = open();
  EXPECT_EQ(*reopened->count(), 2u);
}

TEST_F(SqliteLogTest, TheLogReopensAfterAFailedFlushOnlyOnceNoOtherProcessHasItOpen) {
  std::atomic<bool> failing{false};
  auto log = openWithFlushFailures(failing);
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "a", 1)})));

  // Another process (the sqlite3 shell, as `sluice log export` would) reads the log and stays.
  const std::string answer = dir_.path() + "/other.out";
  const std::string command =
      "sqlite3 '" + sqliteLogFile(dir_.path()) + "' >'" + answer + "' 2>&1";
  FILE* other = ::popen(command.c_str(), "w");
  ASSERT_NE(other, nullptr);
  std::fputs("SELECT count(*) FROM events;\n", other);
  std::fflush(other);
  // It has the log open once it has answered.
  const auto answered = [&answer] {
    std::error_code error;
    const auto size = std::filesystem::file_size(answer, error);
    return !error && size > 0;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!answered() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(answered()) << "the sqlite3 shell did not answer";

  failing = true;
  ASSERT_FALSE(log->appendSync(request({makeEvent("s", "b", 2)})).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // many delays: still refused
  WriteHealth health = log->writeHealth();
  EXPECT_FALSE(health.writable);
  EXPECT_NE(health.reason.find("other process"), std::string::npos) << health.reason;
  EXPECT_EQ(all(*log).size(), 1u);  // reads of what is durable go on meanwhile

  ::pclose(other);
  auto retried = appendUntilAcknowledged(*log, makeEvent("s", "b", 2));
  ASSERT_TRUE(retried.has_value()) << retried.error().toString();
  EXPECT_TRUE(log->writeHealth().writable);
}

TEST_F(SqliteLogTest, ReopeningAfterAFailedFlushNeverCreatesAnEmptyLog) {
  std::atomic<bool> failing{false};
  auto log = openWithFlushFailures(failing);
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "a", 1)})));
  failing = true;
  ASSERT_FALSE(log->appendSync(request({makeEvent("s", "b", 2)})).has_value());

  // The database leaves its path (storage detached, say): the log does not begin a new one.
  const std::string file = sqliteLogFile(dir_.path());
  std::filesystem::rename(file, file + ".away");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_FALSE(log->writeHealth().writable);

  std::filesystem::rename(file + ".away", file);
  auto retried = appendUntilAcknowledged(*log, makeEvent("s", "b", 2));
  ASSERT_TRUE(retried.has_value()) << retried.error().toString();
  EXPECT_EQ(retried->stored + retried->duplicates, 1u);
  std::vector<std::string> ids;
  for (const StoredEvent& e : all(*log)) ids.push_back(e.messageId);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b"}));
}

TEST_F(SqliteLogTest, TheLogReopensAfterAFailedFlushOnlyOnceNoScanIsReading) {
  std::atomic<bool> failing{false};
  auto log = openWithFlushFailures(failing);
  ASSERT_TRUE(log->appendSync(request({makeEvent("s", "a", 1), makeEvent("s", "b", 1)})));

  // A scan stopped in its visitor, holding its own connection.
  std::promise<void> inside;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread scanner([&] {
    bool first = true;
    auto scanned = log->scan(TimeRange{}, std::nullopt, [&](const StoredEvent&) {
      if (first) {
        first = false;
        inside.set_value();
        released.wait();
      }
      return true;
    });
    EXPECT_TRUE(scanned.has_value());
  });
  inside.get_future().wait();
  failing = true;
  ASSERT_FALSE(log->appendSync(request({makeEvent("s", "c", 2)})).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // several delays: still refused
  EXPECT_FALSE(log->writeHealth().writable);
  // No new scan begins meanwhile (it would hold the log's old view of the WAL too).
  auto refused = log->scan(TimeRange{}, std::nullopt, [](const StoredEvent&) { return true; });
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  release.set_value();
  scanner.join();
  auto retried = appendUntilAcknowledged(*log, makeEvent("s", "c", 2));
  ASSERT_TRUE(retried.has_value()) << retried.error().toString();
  EXPECT_TRUE(log->writeHealth().writable);
}

TEST_F(SqliteLogTest, CloseFinishesQueuedAppendsThenRefuses) {
  auto log = open();
  std::atomic<int> ok{0};
  for (int i = 0; i < 50; ++i) {
    log->append(request({makeEvent("s", "q" + std::to_string(i), i)}),
                [&ok](Result<AppendOutcome> r) {
                  if (r && r->stored == 1) ++ok;
                });
  }
  log->close();
  EXPECT_EQ(ok, 50);
  log->close();  // idempotent
  auto refused = log->appendSync(request({makeEvent("s", "late", 1)}));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(log->writeHealth().writable);
  EXPECT_FALSE(log->readAfter(0, 10).has_value());
  EXPECT_FALSE(log->setCursor("c", 1).has_value());

  auto reopened = open();
  EXPECT_EQ(*reopened->count(), 50u);
  EXPECT_EQ(*reopened->lastSeq(), 50u);
}

TEST_F(SqliteLogTest, OpenWithoutCreateFailsWhenMissing) {
  SqliteLogOptions o = options();
  o.directory = dir_.path() + "/nothing-here";
  o.createIfMissing = false;
  auto log = openSqliteLog(o);
  ASSERT_FALSE(log.has_value());
  EXPECT_EQ(log.error().code, ErrorCode::kNotFound);
}

TEST_F(SqliteLogTest, ReadOnlyOpenReadsBesideAWriterAndRefusesWrites) {
  auto writer = open();
  ASSERT_TRUE(writer->appendSync(request({makeEvent("s", "a", 1), makeEvent("s", "b", 2)})));
  SqliteLogOptions o = options();
  o.readOnly = true;
  auto reader = open(o);
  ASSERT_TRUE(reader);
  EXPECT_EQ(*reader->lastSeq(), 2u);
  EXPECT_EQ(all(*reader).size(), 2u);
  ASSERT_TRUE(writer->appendSync(request({makeEvent("s", "c", 3)})));
  EXPECT_EQ(scanCount(*reader), 3u);
  auto refused = reader->appendSync(request({makeEvent("s", "d", 4)}));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(reader->setCursor("x", 1).has_value());
  EXPECT_FALSE(reader->writeHealth().writable);
  reader->close();
  EXPECT_EQ(*writer->count(), 3u);

  SqliteLogOptions missing = o;
  missing.directory = dir_.path() + "/none";
  EXPECT_EQ(openSqliteLog(missing).error().code, ErrorCode::kNotFound);
}

TEST_F(SqliteLogTest, AReadOnlyLogCatchesUpWhenAReadComesBackShortNotAtEveryChunk) {
  auto writer = open();
  std::vector<NewEvent> events;
  for (int i = 0; i < 30; ++i) events.push_back(makeEvent("s", "m" + std::to_string(i), i));
  ASSERT_TRUE(writer->appendSync(request(events)));
  std::atomic<int> flushes{0};
  std::atomic<bool> failing{false};
  SqliteLogOptions o = options();
  o.readOnly = true;
  o.walSync = [&flushes, &failing](int fd) {
    ++flushes;
    return failing ? EIO : syncFileData(fd);
  };
  auto reader = open(o);
  ASSERT_TRUE(reader);
  EXPECT_EQ(flushes.load(), 1);  // at open
  // Three chunks below the seq noted at open: no more flushes.
  for (Seq after : {0, 10, 20}) {
    auto chunk = reader->readAfter(after, 10);
    ASSERT_TRUE(chunk);
    ASSERT_EQ(chunk->size(), 10u);
    EXPECT_EQ(chunk->front().seq, after + 1);
  }
  EXPECT_EQ(flushes.load(), 1);
  // More events written; at the end of what it had seen, the reader catches up and reads them.
  ASSERT_TRUE(writer->appendSync(request({makeEvent("s", "late", 31)})));
  auto tail = reader->readAfter(30, 10);
  ASSERT_TRUE(tail);
  ASSERT_EQ(tail->size(), 1u);
  EXPECT_EQ(tail->front().seq, 31u);
  EXPECT_EQ(flushes.load(), 2);
  // A short read that straddles the end: the rest is read after catching up.
  ASSERT_TRUE(writer->appendSync(request({makeEvent("s", "later", 32)})));
  auto straddling = reader->readAfter(29, 10);
  ASSERT_TRUE(straddling);
  ASSERT_EQ(straddling->size(), 3u);
  EXPECT_EQ(straddling->back().seq, 32u);
  // A failed catch-up is an error, never a silent short read.
  failing = true;
  auto failed = reader->readAfter(32, 10);
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message.find("flushing"), std::string::npos) << failed.error().message;
  EXPECT_FALSE(openSqliteLog(o).has_value());
}

TEST_F(SqliteLogTest, AReadOnlyLogSeesNewEventsAfterRetentionDeletedTheNewest) {
  // The high-water mark (meta) is above every seq left, so no read can start at it.
  auto writer = open();
  ASSERT_TRUE(writer->appendSync(request({makeEvent("s", "a", 1), makeEvent("s", "b", 2)})));
  ASSERT_EQ(*writer->applyRetention(1'000), 2u);
  SqliteLogOptions o = options();
  o.readOnly = true;
  auto reader = open(o);
  ASSERT_TRUE(reader);
  EXPECT_EQ(*reader->lastSeq(), 2u);
  EXPECT_TRUE(reader->readAfter(0, 10)->empty());
  ASSERT_TRUE(writer->appendSync(request({makeEvent("s", "c", 2'000)})));
  auto read = reader->readAfter(0, 10);
  ASSERT_TRUE(read);
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ(read->front().seq, 3u);
}

TEST_F(SqliteLogTest, ANewLogHasTheConfiguredPageSizeAndAnOldOneKeepsItsOwn) {
  auto pageSize = [](const std::string& directory) {
    sqlite3* db = nullptr;
    sqlite3_open(sqliteLogFile(directory).c_str(), &db);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &stmt, nullptr);
    int size = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return size;
  };
  {
    auto log = open();
    ASSERT_TRUE(log->appendSync(request({makeEvent("s", "a", 1)})));
  }
  EXPECT_EQ(pageSize(dir_.path()), 8192);

  TempDir old;
  SqliteLogOptions o = options();
  o.directory = old.path();
  o.pageSize = 4096;
  {
    auto log = open(o);
    ASSERT_TRUE(log->appendSync(request({makeEvent("s", "a", 1)})));
  }
  o.pageSize = 8192;
  auto reopened = open(o);
  ASSERT_TRUE(reopened->appendSync(request(largeEvents("big", 3000, 2))));
  EXPECT_EQ(*reopened->count(), 101u);
  reopened->close();
  EXPECT_EQ(pageSize(old.path()), 4096);
}

// checkpointBytes counts in the log's own pages: a log created with 4 KB pages, opened with the
// 8 KB default, is copied into its database once its WAL holds 256 KB, not 128 KB.
TEST_F(SqliteLogTest, TheCheckpointThresholdCountsTheLogsOwnPages) {
  SqliteLogOptions o = options();
  o.pageSize = 4096;
  {
    auto log = open(o);
    ASSERT_TRUE(log->appendSync(request({makeEvent("s", "a", 1)})));
  }
  const auto file = sqliteLogFile(dir_.path());
  const auto before = std::filesystem::file_size(file);
  o.pageSize = 8192;
  o.checkpointBytes = 256 << 10;
  auto log = open(o);
  // About 190 KB of WAL: over 128 KB, under 256 KB. Nothing is copied, however long we wait
  // (300 ms is far more than the checkpointer takes once woken).
  ASSERT_TRUE(log->appendSync(request(largeEvents("first", 1'500, 2))));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(std::filesystem::file_size(file), before);
  // Over 256 KB (under the writer's 4x): copied by the checkpointer.
  ASSERT_TRUE(log->appendSync(request(largeEvents("second", 1'500, 3))));
  for (int i = 0; i < 500 && std::filesystem::file_size(file) <= before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(std::filesystem::file_size(file), before + 200'000);
}

TEST_F(SqliteLogTest, RecordsTheSchemaVersionAndRefusesANewerOne) {
  { auto log = open(); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(sqliteLogFile(dir_.path()).c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), kSqliteLogSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_stmt* mode = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &mode, nullptr);
  ASSERT_EQ(sqlite3_step(mode), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(mode, 0)), "wal");
  sqlite3_finalize(mode);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto log = openSqliteLog(options());
  ASSERT_FALSE(log.has_value());
  EXPECT_NE(log.error().message.find("newer"), std::string::npos);
}

TEST_F(SqliteLogTest, ReadsAreThreadSafeWhileWriting) {
  auto log = open();
  std::atomic<bool> stop{false};
  std::atomic<int> readErrors{0};
  std::thread reader([&] {
    Seq after = 0;
    for (int i = 0; i < 100'000 && !stop; ++i) {
      auto events = log->readAfter(after, 100);
      if (!events) {
        ++readErrors;
        break;
      }
      for (const auto& e : *events) {
        if (e.seq != after + 1) ++readErrors;
        after = e.seq;
      }
      if (!log->cursor("c").has_value()) ++readErrors;
    }
  });
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(log->appendSync(request({makeEvent("s", "r" + std::to_string(i), i)})));
    ASSERT_TRUE(log->setCursor("c", static_cast<Seq>(i)));
  }
  stop = true;
  reader.join();
  EXPECT_EQ(readErrors, 0);
}

}  // namespace
}  // namespace sluice::store
