// Delivery's own throughput (manual, not run in CI; bench/delivery_throughput.sh drives it): a
// dispatcher reading the event log, packing 1,000-event bodies, sending them through the Beast
// HTTP client to a running `sluice mock-tiktok`, judging the replies and moving its cursor, with
// the mapping taken out. The log is filled with TikTok items mapped beforehand by the real codec
// from "Order Completed" events (hashed email and phone, two contents, ~740 B); the dispatcher's
// codec hands each stored item through unchanged and builds bodies and judges replies with the
// TikTok codec. The mapping has its own figure (transform_bench); the end-to-end drain, mapping
// included, is bench/delivery_backlog.sh.
//
//   delivery_bench --dir D --events N --url URL [--concurrency C] [--map-threads T]
//       D must not exist (it is created, filled, then read). Prints the fill time, then the
//       delivery time, events/s and the process's CPU per event while delivering. T: the
//       dispatcher's map threads (default 2; 0 maps on the dispatcher's own thread).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_events.h"
#include "core/clock.h"
#include "delivery/delivery_service.h"
#include "delivery/dispatcher.h"
#include "delivery/tiktok_codec.h"
#include "store/delivery_state.h"
#include "store/sqlite_log.h"

namespace {

using namespace sluice;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "delivery_bench: %s\n", what.c_str());
  std::exit(1);
}

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Stored events already are TikTok items: map() passes them through with the key and name the
// TikTok codec gave them; bodies and replies are the TikTok codec's.
class PassThroughCodec final : public delivery::DestinationCodec {
 public:
  PassThroughCodec(std::shared_ptr<delivery::DestinationCodec> tiktok, std::string key,
                   std::string eventName)
      : tiktok_(std::move(tiktok)), key_(std::move(key)), eventName_(std::move(eventName)) {}
  bool feeds(std::string_view) const override { return true; }
  delivery::MapOutcome map(const store::StoredEvent& event, EpochMs) override {
    delivery::MapOutcome out;
    out.items.push_back(delivery::MappedItem{event.json, key_, eventName_});
    return out;
  }
  std::unique_ptr<delivery::DestinationCodec> forkMapper() const override {
    return std::make_unique<PassThroughCodec>(tiktok_, key_, eventName_);
  }
  delivery::HttpPost request(std::string_view batchKey,
                             const std::vector<std::string_view>& items) override {
    return tiktok_->request(batchKey, items);
  }
  delivery::ReplyClass classify(int httpStatus, std::string_view body) override {
    return tiktok_->classify(httpStatus, body);
  }

 private:
  std::shared_ptr<delivery::DestinationCodec> tiktok_;  // request() and classify() only
  std::string key_;
  std::string eventName_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string dir, url;
  long events = 1'000'000;
  int concurrency = 16;
  long mapThreads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--events") {
      events = std::atol(argv[i + 1]);
    } else if (flag == "--url") {
      url = argv[i + 1];
    } else if (flag == "--concurrency") {
      concurrency = std::atoi(argv[i + 1]);
    } else if (flag == "--map-threads") {
      mapThreads = std::atol(argv[i + 1]);
    } else {
      die("unknown flag " + flag);
    }
  }
  if (dir.empty() || url.empty() || events <= 0 || concurrency <= 0 || mapThreads < 0) {
    die("usage: delivery_bench --dir D --events N --url URL [--concurrency C] [--map-threads T]");
  }
  if (std::filesystem::exists(dir)) die(dir + " exists: give a new directory");

  config::DestinationConfig d;
  d.name = "bench";
  d.type = "tiktok-conversions";
  d.settings.accessToken = "bench-token";
  d.settings.pixelCode = "CBENCH0000000000000";
  d.settings.apiUrl = url;
  d.batch.maxEvents = 1000;
  d.batch.lingerMs = 200;
  d.flow.maxRequestsPerSecond = 1000;
  d.flow.maxEventsPerSecond = 2'000'000;
  d.flow.maxConcurrency = concurrency;
  auto made = delivery::makeTikTokCodec(d);
  if (!made) die(made.error().toString());
  std::shared_ptr<delivery::DestinationCodec> tiktok = std::move(*made);

  // Fill: each "Order Completed" event mapped once by the real codec, its item stored.
  store::SqliteLogOptions logOptions;
  logOptions.directory = dir;
  logOptions.dedupWindowMs = 0;
  logOptions.minFreeBytes = 0;
  auto opened = store::openSqliteLog(logOptions);
  if (!opened) die(opened.error().toString());
  std::unique_ptr<store::EventLog> log = std::move(*opened);
  const EpochMs now = SystemClock::instance().nowMs();
  std::string key, eventName;
  auto fillStart = std::chrono::steady_clock::now();
  for (long first = 1; first <= events; first += 1000) {
    store::AppendRequest request;
    for (long id = first; id < first + 1000 && id <= events; ++id) {
      store::NewEvent e = bench::makeOrderEvent(id, now, true);
      store::StoredEvent stored{static_cast<store::Seq>(id),
                                e.source,
                                e.messageId,
                                e.type,
                                e.name,
                                e.receivedAtMs,
                                e.timestampMs,
                                e.json};
      delivery::MapOutcome mapped = tiktok->map(stored, now);
      if (mapped.items.size() != 1)
        die("event " + std::to_string(id) + " did not map: " + mapped.error);
      key = mapped.items[0].batchKey;
      eventName = mapped.items[0].eventName;
      e.json = std::move(mapped.items[0].json);
      request.events.push_back(std::move(e));
    }
    auto appended = log->appendSync(std::move(request));
    if (!appended) die(appended.error().toString());
  }
  std::printf("filled %ld items in %.1f s\n", events,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - fillStart).count());
  std::fflush(stdout);  // a script waiting for this line attaches a profiler now

  // Deliver.
  if (auto r = log->setCursor(d.name, 0); !r) die(r.error().toString());
  auto feed = delivery::LogFeed::open(*log, d.name);
  if (!feed) die(feed.error().toString());
  auto state = store::openSqliteDeliveryState(dir, SystemClock::instance());
  if (!state) die(state.error().toString());
  auto client = delivery::makeBeastHttpClient();
  DefaultRandom random;
  delivery::DispatcherOptions options = delivery::dispatcherOptions(d);
  options.mapThreads = static_cast<size_t>(mapThreads);
  delivery::Dispatcher dispatcher(
      options, std::make_unique<PassThroughCodec>(tiktok, key, eventName), std::move(*feed),
      *client, **state, SystemClock::instance(), random);
  const double cpuBefore = cpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  dispatcher.start();
  const auto deadline = start + std::chrono::minutes(10);
  delivery::DispatcherStats stats;
  while ((stats = dispatcher.stats()).itemsDelivered < static_cast<uint64_t>(events)) {
    if (std::chrono::steady_clock::now() > deadline) {
      die("not delivered after 10 minutes: " + std::to_string(stats.itemsDelivered));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpuSeconds() - cpuBefore;
  dispatcher.stop();
  std::printf(
      "delivered %ld items in %.2f s => %.0f events/s; %llu requests (%llu retried); "
      "CPU %.1f s (%.2f us/event, all threads of this process)\n",
      events, seconds, events / seconds, static_cast<unsigned long long>(stats.requestsSent),
      static_cast<unsigned long long>(stats.retriesSent), cpu, cpu / events * 1e6);
  return 0;
}
