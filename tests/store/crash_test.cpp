// Durability under kill -9: a child process appends in a loop and reports every acknowledged event
// through a pipe; the parent kills it at random moments, reopens the log, and checks that every
// acknowledged event is there and the database is consistent.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite_log.h"
#include "store/store_test_util.h"

namespace sluice::store {
namespace {

using testing::makeEvent;
using testing::TempDir;

SqliteLogOptions crashOptions(const std::string& dir) {
  SqliteLogOptions o;
  o.directory = dir;
  o.minFreeBytes = 0;
  o.checkpointBytes = 256 << 10;  // checkpoints happen often, so kills land during them too
  return o;
}

// The child: never returns. Its first line, "R", says the log is open; each later line is either
// "E <messageId>" for an acknowledged event or "C <seq>" for an acknowledged cursor position.
[[noreturn]] void runChild(const std::string& dir, int round, int fd) {
  auto opened = openSqliteLog(crashOptions(dir));
  if (!opened) _exit(3);
  if (::write(fd, "R\n", 2) != 2) _exit(5);
  EventLog& log = **opened;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log, round, t, fd] {
      for (int i = 0;; ++i) {
        AppendRequest request;
        const int n = 1 + (i * 7 + t) % 20;
        for (int k = 0; k < n; ++k) {
          NewEvent e = makeEvent("s", "r" + std::to_string(round) + "-t" + std::to_string(t) +
                                          "-" + std::to_string(i) + "-" + std::to_string(k),
                                 i);
          e.json += std::string(200 + k * 37 % 800, 'p');
          request.events.push_back(std::move(e));
        }
        auto outcome = log.appendSync(std::move(request));
        if (!outcome) _exit(4);
        std::string lines;
        for (int k = 0; k < n; ++k) {
          lines += "E r" + std::to_string(round) + "-t" + std::to_string(t) + "-" +
                   std::to_string(i) + "-" + std::to_string(k) + "\n";
        }
        if (t == 0 && i % 5 == 0 && log.setCursor("consumer", outcome->lastSeq)) {
          lines += "C " + std::to_string(outcome->lastSeq) + "\n";
        }
        // One write of less than PIPE_BUF bytes: never interleaved with another thread's lines.
        if (::write(fd, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size())) _exit(5);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  _exit(0);
}

// Reads what the child writes into `buffer` until `untilNs` (-1: until nothing comes for 5 s).
// False once the pipe is closed (the child is gone).
bool drain(int fd, std::string& buffer, int64_t untilNs) {
  char chunk[65536];
  while (true) {
    const int64_t now = SystemClock::instance().monotonicNs();
    if (untilNs >= 0 && now >= untilNs) return true;
    struct pollfd p{fd, POLLIN, 0};
    int timeoutMs = untilNs < 0 ? 5'000 : static_cast<int>((untilNs - now) / 1'000'000) + 1;
    int ready = ::poll(&p, 1, timeoutMs);
    if (ready <= 0) {
      if (untilNs < 0) return true;  // nothing more within 5 s: give up (the writer is dead anyway)
      continue;
    }
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;  // EOF: the child is gone
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

std::string integrityCheck(const std::string& dir) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(sqliteLogFile(dir).c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return result;
}

TEST(SqliteLogCrashTest, EveryAcknowledgedEventSurvivesKillNine) {
  TempDir dir;
  DefaultRandom random(20240601);
  std::set<std::string> acknowledged;
  Seq acknowledgedCursor = 0;
  Seq previousLastSeq = 0;
  int roundsWithAcks = 0;
  constexpr int kRounds = 24;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      runChild(dir.path(), round, fds[1]);
    }
    ::close(fds[1]);
    std::string buffer;
    // Most kills land 20-300 ms after the log is open, however long the opening (recovery of a
    // growing log, on a busy machine) takes; every fourth lands 0-100 ms after the fork, often
    // during the opening itself.
    const bool duringOpening = round % 4 == 3;
    bool alive = true;
    if (!duringOpening) {
      const int64_t giveUpNs = SystemClock::instance().monotonicNs() + 20'000'000'000LL;
      while (alive && buffer.rfind("R\n", 0) != 0 &&
             SystemClock::instance().monotonicNs() < giveUpNs) {
        alive = drain(fds[0], buffer, SystemClock::instance().monotonicNs() + 10'000'000);
      }
    }
    const int64_t killAfterMs = duringOpening ? static_cast<int64_t>(random.below(100))
                                              : 20 + static_cast<int64_t>(random.below(280));
    if (alive) {
      drain(fds[0], buffer, SystemClock::instance().monotonicNs() + killAfterMs * 1'000'000);
    }
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
    ASSERT_TRUE(duringOpening || buffer.rfind("R\n", 0) == 0)
        << "round " << round << ": the log did not open within 20 s";
    drain(fds[0], buffer, -1);  // what the child wrote before dying
    ::close(fds[0]);

    // Only complete lines count: a line cut by the kill was never fully reported.
    size_t before = acknowledged.size();
    size_t start = 0;
    for (size_t end; (end = buffer.find('\n', start)) != std::string::npos; start = end + 1) {
      std::string line = buffer.substr(start, end - start);
      if (line.rfind("E ", 0) == 0) acknowledged.insert(line.substr(2));
      if (line.rfind("C ", 0) == 0) {
        acknowledgedCursor = std::max<Seq>(acknowledgedCursor, std::stoull(line.substr(2)));
      }
    }
    if (acknowledged.size() > before) ++roundsWithAcks;

    // Reopen and verify.
    ASSERT_EQ(integrityCheck(dir.path()), "ok") << "round " << round;
    auto opened = openSqliteLog(crashOptions(dir.path()));
    ASSERT_TRUE(opened.has_value()) << opened.error().toString();
    EventLog& log = **opened;
    std::set<std::string> present;
    Seq previous = 0;
    Seq after = 0;
    for (int guard = 0; guard < 100'000; ++guard) {
      auto events = log.readAfter(after, 5'000);
      ASSERT_TRUE(events.has_value());
      if (events->empty()) break;
      for (const auto& e : *events) {
        ASSERT_GT(e.seq, previous);
        previous = e.seq;
        ASSERT_TRUE(present.insert(e.messageId).second) << "stored twice: " << e.messageId;
      }
      after = events->back().seq;
    }
    auto lastSeq = log.lastSeq();
    ASSERT_TRUE(lastSeq.has_value());
    EXPECT_EQ(*lastSeq, previous) << "round " << round;
    EXPECT_GE(*lastSeq, previousLastSeq) << "sequence numbers went backwards";
    previousLastSeq = *lastSeq;
    EXPECT_EQ(*log.count(), present.size());
    // Every stored event is found by time as well: its span committed with it.
    size_t scanned = 0;
    ASSERT_TRUE(log.scan(TimeRange{}, std::nullopt, [&scanned](const StoredEvent&) {
                     ++scanned;
                     return true;
                   }).has_value());
    EXPECT_EQ(scanned, present.size()) << "round " << round;
    EXPECT_GE(*log.cursor("consumer"), acknowledgedCursor);
    size_t missing = 0;
    for (const auto& id : acknowledged) {
      if (present.count(id) == 0) ++missing;
    }
    ASSERT_EQ(missing, 0u) << "round " << round << ": " << missing << " of "
                           << acknowledged.size() << " acknowledged events lost";
    log.close();
  }
  // The test means something only if most rounds got acknowledgements before the kill.
  EXPECT_GE(roundsWithAcks, kRounds / 2);
  EXPECT_GT(acknowledged.size(), 1000u);
}

}  // namespace
}  // namespace sluice::store
