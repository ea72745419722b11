// Event log benchmarks (manual, not run in CI).
//
//   store_append_bench append [--dir D] [--events N] [--batch B] [--size BYTES] [--appenders T]
//                             [--page-size BYTES] [--checkpoint-bytes BYTES]
//       Appends N events of about BYTES bytes in requests of B events from T threads, each request
//       acknowledged only once fsync'd (group commit), and prints events/s.
//   store_append_bench build --dir D --events N [--size BYTES] [--shape padded|order]
//       Fills a log with N events (for the open and delivery benchmarks); the log is kept.
//       `--shape order`: enriched "Order Completed" calls with an email, phone, IP, user agent,
//       page and two products (~900 B), which the TikTok "Place an Order" preset maps and hashes.
//   store_append_bench open --dir D
//       Times opening an existing log, lastSeq(), reading the newest 100 events, the first append
//       (which waits for the de-duplication window to load), and closing.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_events.h"
#include "core/time.h"
#include "store/sqlite_log.h"

namespace {

using sluice::store::AppendRequest;
using sluice::store::EventLog;
using sluice::store::NewEvent;
using sluice::bench::makeOrderEvent;

struct Args {
  std::string mode = "append";
  std::string dir;
  long events = 200'000;
  long batch = 100;
  long size = 1024;
  long appenders = 4;
  long dedupWindowMs = 24L * 3'600'000;
  bool randomIds = true;
  bool orderShape = false;
};

long gCheckpointBytes = 0;  // 0: the store's default
long gPageSize = 0;         // 0: the store's default

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// An event shaped like an enriched Segment track call of about `size` bytes.
NewEvent makeEvent(long id, long size, sluice::EpochMs now, bool randomIds) {
  NewEvent e = sluice::bench::orderCompletedCall(id, now, randomIds);
  e.json = R"({"type":"track","event":"Order Completed","messageId":")" + e.messageId +
           R"(","userId":"user-)" + std::to_string(id % 100'000) +
           R"(","properties":{"order_id":")" + std::to_string(id) +
           R"(","value":99.5,"currency":"USD","padding":")";
  long pad = size - static_cast<long>(e.json.size()) - 4;
  e.json.append(static_cast<size_t>(std::max(0L, pad)), 'x');
  e.json += R"("}})";
  return e;
}

std::unique_ptr<EventLog> openLog(const std::string& dir, long dedupWindowMs = 24L * 3'600'000) {
  sluice::store::SqliteLogOptions options;
  options.directory = dir;
  options.dedupWindowMs = dedupWindowMs;
  if (gCheckpointBytes > 0) options.checkpointBytes = gCheckpointBytes;
  if (gPageSize > 0) options.pageSize = static_cast<int>(gPageSize);
  options.minFreeBytes = 0;
  auto log = sluice::store::openSqliteLog(options);
  if (!log) {
    std::fprintf(stderr, "open failed: %s\n", log.error().toString().c_str());
    std::exit(1);
  }
  return std::move(*log);
}

int runAppend(const Args& args, bool report) {
  auto log = openLog(args.dir, args.dedupWindowMs);
  const long requests = args.events / args.batch;
  const auto now = sluice::SystemClock::instance().nowMs();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::atomic<long> next{0};
  std::atomic<long> failures{0};
  std::atomic<long> base{static_cast<long>(*log->lastSeq())};
  for (long t = 0; t < args.appenders; ++t) {
    threads.emplace_back([&] {
      for (long r; (r = next++) < requests;) {
        AppendRequest request;
        request.events.reserve(static_cast<size_t>(args.batch));
        for (long k = 0; k < args.batch; ++k) {
          const long id = base + r * args.batch + k;
          request.events.push_back(args.orderShape ? makeOrderEvent(id, now, args.randomIds)
                                                   : makeEvent(id, args.size, now, args.randomIds));
        }
        auto outcome = log->appendSync(std::move(request));
        if (!outcome || outcome->stored != static_cast<size_t>(args.batch)) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double seconds = secondsSince(start);
  log->close();
  if (failures > 0) {
    std::fprintf(stderr, "%ld requests failed\n", failures.load());
    return 1;
  }
  if (report) {
    // Bytes handed to write(2) and syncs issued: the store's write amplification.
    if (FILE* io = std::fopen("/proc/self/io", "r")) {
      char line[128];
      while (std::fgets(line, sizeof line, io) != nullptr) {
        if (std::strncmp(line, "wchar:", 6) == 0 || std::strncmp(line, "syscw:", 6) == 0) {
          std::printf("  %s", line);
        }
      }
      std::fclose(io);
    }
    const double events = static_cast<double>(requests * args.batch);
    std::printf(
        "append: %ld events of %ld B in requests of %ld from %ld appenders: %.2f s, %.0f events/s,"
        " %.0f requests/s, %.1f MB/s\n",
        requests * args.batch, args.size, args.batch, args.appenders, seconds, events / seconds,
        static_cast<double>(requests) / seconds, events * static_cast<double>(args.size) / seconds / 1e6);
  }
  return 0;
}

int runOpen(const Args& args) {
  const auto start = std::chrono::steady_clock::now();
  auto log = openLog(args.dir);
  const double opened = secondsSince(start);
  auto last = log->lastSeq();
  const double gotLast = secondsSince(start);
  auto newest = log->readAfter(*last > 100 ? *last - 100 : 0, 100);
  const double read = secondsSince(start);
  // The first append waits for the de-duplication window to be loaded from dedup_keys.
  sluice::store::AppendRequest request;
  request.events.push_back(makeEvent(static_cast<long>(*last) + 1, 256, sluice::SystemClock::instance().nowMs(), true));
  auto appended = log->appendSync(std::move(request));
  const double firstAppend = secondsSince(start);
  log->close();
  const double closed = secondsSince(start);
  std::printf("open: %.3f s to open, lastSeq %llu at %.3f s, newest %zu events read at %.3f s,"
              " first append %s at %.3f s, closed at %.3f s\n",
              opened, static_cast<unsigned long long>(*last), gotLast,
              newest ? newest->size() : 0, read, appended ? "stored" : "FAILED", firstAppend,
              closed);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  int i = 1;
  if (argc > 1 && argv[1][0] != '-') args.mode = argv[i++];
  for (; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--dir") args.dir = value;
    else if (flag == "--events") args.events = std::atol(value);
    else if (flag == "--batch") args.batch = std::atol(value);
    else if (flag == "--size") args.size = std::atol(value);
    else if (flag == "--appenders") args.appenders = std::atol(value);
    else if (flag == "--checkpoint-bytes") gCheckpointBytes = std::atol(value);
    else if (flag == "--page-size") gPageSize = std::atol(value);
    else if (flag == "--dedup-window-ms") args.dedupWindowMs = std::atol(value);
    else if (flag == "--random-ids") args.randomIds = std::string_view(value) == "1";
    else if (flag == "--shape") args.orderShape = std::string_view(value) == "order";
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  bool temporary = args.dir.empty();
  if (temporary) {
    args.dir = (std::filesystem::temp_directory_path() /
                ("sluice-store-bench-" + std::to_string(::getpid())))
                   .string();
  }
  int status = 2;
  if (args.mode == "append") {
    status = runAppend(args, true);
  } else if (args.mode == "build") {
    args.batch = 10'000;
    args.appenders = 1;
    const auto start = std::chrono::steady_clock::now();
    status = runAppend(args, false);
    std::printf("build: %ld events in %.1f s under %s\n", args.events, secondsSince(start),
                args.dir.c_str());
  } else if (args.mode == "open") {
    status = runOpen(args);
  } else {
    std::fprintf(stderr, "unknown mode %s (append, build, open)\n", args.mode.c_str());
  }
  if (temporary && args.mode == "append") std::filesystem::remove_all(args.dir);
  return status;
}
