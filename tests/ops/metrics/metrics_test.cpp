// The exposition of ops/metrics: names, labels and values after known probe calls and snapshots;
// the label caps; the /metrics handler's admin check; the scrape-time readings (store size,
// backlog) on a real directory and a real SQLite log.
#include "ops/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "exposition_text.h"
#include "ops/metrics/snapshot.h"
#include "store/sqlite_log.h"

namespace sluice::ops::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using sluice::testing::valueOf;

TEST(MetricsTest, IngestionCountersAfterKnownProbeCalls) {
  Metrics metrics;
  metrics.addSources({"web", "server"});
  metrics.requestDone("track", 200, 1, 0, 2'000'000);    // 2 ms
  metrics.requestDone("batch", 200, 3, 2, 30'000'000);   // 30 ms
  metrics.requestDone("batch", 200, 1, 0, 700'000'000);  // 700 ms
  metrics.requestDone("track", 401, 0, 0, 100'000);
  metrics.eventsDone("web", 1, 0, {});
  metrics.eventsDone("web", 2, 1, {"missing_field", "invalid_field"});
  metrics.eventsDone("web", 0, 0, {"missing_field"});
  metrics.eventsDone("web", 0, 0, {ingest::kRejectedStoreUnavailable});
  const std::string text = metrics.render();

  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="track",status="200"})"), 1);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="batch",status="200"})"), 2);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="track",status="401"})"), 1);
  EXPECT_EQ(valueOf(text, R"(sluice_events_received_total{source="web"})"), 8);
  EXPECT_EQ(valueOf(text, R"(sluice_events_stored_total{source="web"})"), 3);
  EXPECT_EQ(valueOf(text, R"(sluice_events_duplicate_total{source="web"})"), 1);
  EXPECT_EQ(valueOf(text, R"(sluice_events_rejected_total{reason="missing_field",source="web"})"),
            2);
  EXPECT_EQ(valueOf(text, R"(sluice_events_rejected_total{reason="invalid_field",source="web"})"),
            1);
  EXPECT_EQ(
      valueOf(text, R"(sluice_events_rejected_total{reason="store_unavailable",source="web"})"), 1);
  // Configured sources exist at zero before their first event.
  EXPECT_EQ(valueOf(text, R"(sluice_events_received_total{source="server"})"), 0);
  EXPECT_EQ(valueOf(text, R"(sluice_events_stored_total{source="server"})"), 0);
  // The same stored counts for the dashboard, without duplicates or rejected events.
  EXPECT_EQ(metrics.storedBySource(),
            (std::map<std::string, uint64_t>{{"server", 0}, {"web", 3}}));

  // The latency histogram in seconds: cumulative buckets, count and sum.
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_request_duration_seconds_count{route="batch"})"), 2);
  EXPECT_NEAR(*valueOf(text, R"(sluice_ingest_request_duration_seconds_sum{route="batch"})"), 0.73,
              1e-9);
  EXPECT_EQ(
      valueOf(text, R"(sluice_ingest_request_duration_seconds_bucket{route="batch",le="0.025"})"),
      0);
  // Buckets to the millisecond and finer below 10 ms.
  for (const char* bound : {"0.00025", "0.00075", "0.0015", "0.002", "0.003", "0.004", "0.0075"}) {
    const std::string series =
        std::string(R"(sluice_ingest_request_duration_seconds_bucket{route="batch",le=")") + bound +
        R"("})";
    EXPECT_EQ(valueOf(text, series), 0) << series;
  }
  EXPECT_EQ(
      valueOf(text, R"(sluice_ingest_request_duration_seconds_bucket{route="batch",le="0.05"})"),
      1);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_request_duration_seconds_bucket{route="batch",le="1"})"),
            2);
  EXPECT_EQ(
      valueOf(text, R"(sluice_ingest_request_duration_seconds_bucket{route="batch",le="+Inf"})"),
      2);
  EXPECT_THAT(text, HasSubstr("# TYPE sluice_events_received_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE sluice_ingest_request_duration_seconds histogram"));
  // No delivery figures without a snapshot source.
  EXPECT_THAT(text, Not(HasSubstr("sluice_delivery_")));
}

Snapshot knownSnapshot() {
  Snapshot snapshot;
  DestinationSnapshot d;
  auto& s = d.stats;
  s.eventsRead = 40;
  s.eventsSkipped = 6;
  s.requestsSent = 9;
  s.retriesSent = 3;
  s.itemsRetried = 75;  // three retries of 25 events each
  s.probesSent = 1;
  s.retryReplies = 4;
  s.budgetDenied = 2;
  s.splits = 1;
  s.byEventName["CompletePayment"] = {30, 27, 1, 2};
  s.byEventName[delivery::kUnmappedEventName] = {0, 0, 2, 0};
  s.replies = {{"0", 5}, {"40001", 1}, {"http_503", 2}, {"timeout", 1}};
  s.latencyBuckets[0] = 2;                                         // <= 5 ms
  s.latencyBuckets[4] = 3;                                         // <= 100 ms
  s.latencyBuckets[delivery::kRequestLatencyBoundsMs.size()] = 1;  // > 30 s
  s.latencySumMs = 31'250;
  s.paused = true;
  s.pauseReason = "access token rejected";
  s.breaker = delivery::BreakerState::kPaused;
  s.concurrencyLimit = 4;
  s.outstandingItems = 12;
  s.lastDeliveredMs = 1'717'243'230'500;
  d.backlogEvents = 7;
  d.backlogAgeSeconds = 12.5;
  snapshot.destinations["tiktok-main"] = d;
  snapshot.store = StoreUsage{123'456, 9'000'000, 50'000'000};
  snapshot.flushes = store::FlushStats{1'234, 1, 0.75, 2'345};
  return snapshot;
}

// The I/O threads call the probe at once; series are found through a shared cache.
TEST(MetricsTest, ProbeCallsFromManyThreadsAreAllCounted) {
  Metrics metrics;
  metrics.addSources({"web"});
  constexpr int kThreads = 4;
  constexpr int kCalls = 5'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      const std::string source = t % 2 == 0 ? "web" : "app";
      for (int i = 0; i < kCalls; ++i) {
        metrics.requestDone(i % 2 == 0 ? "track" : "batch", i % 5 == 0 ? 400 : 200, 1, 0, 1'000);
        metrics.eventsDone(source, 1, i % 10 == 0 ? 1 : 0, {});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::string text = metrics.render();
  // Per thread: 2,500 track and 2,500 batch calls; i % 5 == 0 is 400 (500 of each route).
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="track",status="200"})"), 8'000);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="track",status="400"})"), 2'000);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="batch",status="200"})"), 8'000);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_requests_total{route="batch",status="400"})"), 2'000);
  EXPECT_EQ(valueOf(text, R"(sluice_ingest_request_duration_seconds_count{route="track"})"),
            10'000);
  EXPECT_EQ(valueOf(text, R"(sluice_events_received_total{source="web"})"), 11'000);
  EXPECT_EQ(valueOf(text, R"(sluice_events_duplicate_total{source="app"})"), 1'000);
  EXPECT_EQ(metrics.storedBySource(),
            (std::map<std::string, uint64_t>{{"app", 10'000}, {"web", 10'000}}));
}

TEST(MetricsTest, DeliveryFiguresFromASnapshot) {
  Metrics metrics;
  metrics.setSnapshotSource(knownSnapshot);
  const std::string text = metrics.render();
  const std::string dest = R"(destination="tiktok-main")";
  auto value = [&](const std::string& name, const std::string& more = "") {
    return valueOf(text, name + "{" + dest + more + "}");
  };
  EXPECT_EQ(value("sluice_events_mapped_total", R"(,event="CompletePayment")"), 30);
  EXPECT_EQ(value("sluice_events_delivered_total", R"(,event="CompletePayment")"), 27);
  EXPECT_EQ(value("sluice_events_dead_total", R"(,event="CompletePayment")"), 1);
  EXPECT_EQ(value("sluice_events_expired_total", R"(,event="CompletePayment")"), 2);
  EXPECT_EQ(value("sluice_events_dead_total", R"x(,event="(unmapped)")x"), 2);
  EXPECT_EQ(value("sluice_events_read_total"), 40);
  EXPECT_EQ(value("sluice_events_unmatched_total"), 6);
  EXPECT_EQ(value("sluice_delivery_requests_total"), 9);
  EXPECT_EQ(value("sluice_delivery_retries_total"), 3);
  EXPECT_EQ(value("sluice_events_retried_total"), 75);  // events, not requests
  EXPECT_EQ(value("sluice_delivery_probes_total"), 1);
  EXPECT_EQ(value("sluice_delivery_retry_replies_total"), 4);
  EXPECT_EQ(value("sluice_delivery_retry_budget_denied_total"), 2);
  EXPECT_EQ(value("sluice_delivery_splits_total"), 1);
  EXPECT_EQ(valueOf(text, R"(sluice_delivery_replies_total{code="0",)" + dest + "}"), 5);
  EXPECT_EQ(valueOf(text, R"(sluice_delivery_replies_total{code="40001",)" + dest + "}"), 1);
  EXPECT_EQ(valueOf(text, R"(sluice_delivery_replies_total{code="http_503",)" + dest + "}"), 2);
  EXPECT_EQ(valueOf(text, R"(sluice_delivery_replies_total{code="timeout",)" + dest + "}"), 1);
  EXPECT_EQ(value("sluice_delivery_request_duration_seconds_count"), 6);
  EXPECT_NEAR(*value("sluice_delivery_request_duration_seconds_sum"), 31.25, 1e-9);
  EXPECT_EQ(value("sluice_delivery_request_duration_seconds_bucket", R"(,le="0.005")"), 2);
  EXPECT_EQ(value("sluice_delivery_request_duration_seconds_bucket", R"(,le="0.05")"), 2);
  EXPECT_EQ(value("sluice_delivery_request_duration_seconds_bucket", R"(,le="0.1")"), 5);
  EXPECT_EQ(value("sluice_delivery_request_duration_seconds_bucket", R"(,le="30")"), 5);
  EXPECT_EQ(value("sluice_delivery_request_duration_seconds_bucket", R"(,le="+Inf")"), 6);
  EXPECT_EQ(value("sluice_delivery_paused"), 1);
  EXPECT_EQ(value("sluice_delivery_breaker_state", R"(,state="paused")"), 1);
  EXPECT_EQ(value("sluice_delivery_breaker_state", R"(,state="closed")"), 0);
  EXPECT_EQ(value("sluice_delivery_breaker_state", R"(,state="open")"), 0);
  EXPECT_EQ(value("sluice_delivery_breaker_state", R"(,state="half_open")"), 0);
  EXPECT_EQ(value("sluice_delivery_concurrency_limit"), 4);
  EXPECT_EQ(value("sluice_delivery_outstanding_items"), 12);
  EXPECT_EQ(value("sluice_delivery_backlog_events"), 7);
  EXPECT_EQ(value("sluice_delivery_backlog_age_seconds"), 12.5);
  EXPECT_NEAR(*value("sluice_delivery_last_delivered_timestamp_seconds"), 1'717'243'230.5, 1e-3);
  EXPECT_EQ(valueOf(text, "sluice_store_size_bytes"), 123'456);
  EXPECT_EQ(valueOf(text, "sluice_store_free_bytes"), 9'000'000);
  EXPECT_EQ(valueOf(text, "sluice_store_capacity_bytes"), 50'000'000);
  EXPECT_EQ(valueOf(text, "sluice_store_flushes_total"), 1'234);
  EXPECT_EQ(valueOf(text, "sluice_store_commits_total"), 2'345);
  EXPECT_EQ(valueOf(text, "sluice_store_flush_failures_total"), 1);
  EXPECT_EQ(valueOf(text, "sluice_store_flush_seconds_total"), 0.75);
  EXPECT_THAT(text, HasSubstr("# TYPE sluice_delivery_request_duration_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("# TYPE sluice_delivery_backlog_events gauge"));
  EXPECT_THAT(text, HasSubstr("# TYPE sluice_events_delivered_total counter"));
  // The pause reason is free text: not a label.
  EXPECT_THAT(text, Not(HasSubstr("access token rejected")));

  // Once the source is removed (serve stopping), delivery series disappear.
  metrics.setSnapshotSource({});
  EXPECT_THAT(metrics.render(), Not(HasSubstr("sluice_delivery_")));
}

TEST(MetricsTest, EventAndReplyLabelsAreCappedAndStable) {
  Metrics metrics;
  Snapshot snapshot;
  auto& stats = snapshot.destinations["d"].stats;
  for (int i = 0; i < 150; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "E%03d", i);
    stats.byEventName[name] = {1, 1, 0, 0};
  }
  for (int i = 0; i < 60; ++i) stats.replies[std::to_string(40100 + i)] = 2;
  std::vector<prometheus::MetricFamily> families = metrics.collectDelivery(snapshot);
  auto seriesOf = [](const std::vector<prometheus::MetricFamily>& fs, const std::string& name) {
    std::map<std::string, double> out;
    for (const auto& f : fs) {
      if (f.name != name) continue;
      for (const auto& m : f.metric) {
        for (const auto& l : m.label) {
          if (l.name == "event" || l.name == "code") out[l.value] = m.counter.value;
        }
      }
    }
    return out;
  };
  auto delivered = seriesOf(families, "sluice_events_delivered_total");
  EXPECT_EQ(delivered.size(), kMaxEventLabels + 1);
  EXPECT_EQ(delivered["E000"], 1);
  EXPECT_EQ(delivered["E099"], 1);
  EXPECT_EQ(delivered.count("E100"), 0u);
  EXPECT_EQ(delivered[kOtherLabel], 50);
  auto replies = seriesOf(families, "sluice_delivery_replies_total");
  EXPECT_EQ(replies.size(), kMaxReplyLabels + 1);
  EXPECT_EQ(replies[kOtherLabel], 20);

  // A new name that sorts first does not displace an admitted one (counters never go back).
  stats.byEventName["A-new"] = {5, 5, 0, 0};
  delivered = seriesOf(metrics.collectDelivery(snapshot), "sluice_events_delivered_total");
  EXPECT_EQ(delivered.count("A-new"), 0u);
  EXPECT_EQ(delivered["E000"], 1);
  EXPECT_EQ(delivered[kOtherLabel], 55);
  // The cap is per destination.
  Snapshot other;
  other.destinations["e"].stats.byEventName["A-new"] = {1, 1, 0, 0};
  delivered = seriesOf(metrics.collectDelivery(other), "sluice_events_delivered_total");
  EXPECT_EQ(delivered["A-new"], 1);
}

http::Response call(Metrics& metrics, const std::string& token, http::Request request) {
  std::optional<http::Response> answer;
  http::AdminThrottle throttle(SystemClock::instance());
  metrics.setAdminToken(token);
  metrics.handler(throttle)(std::move(request), [&](http::Response r) { answer = std::move(r); });
  EXPECT_TRUE(answer.has_value());
  return answer ? *answer : http::Response{};
}

http::Request get(std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::Request request;
  request.method = "GET";
  request.target = "/metrics";
  request.path = "/metrics";
  request.headers = std::move(headers);
  return request;
}

TEST(MetricsTest, ANewAdminTokenAppliesToTheRunningHandler) {
  Metrics metrics;
  http::AdminThrottle throttle(SystemClock::instance());
  metrics.setAdminToken("old-token-1");
  http::Handler handler = metrics.handler(throttle);
  auto status = [&](const std::string& token) {
    int code = 0;
    handler(get({{"authorization", "Bearer " + token}}), [&](http::Response r) { code = r.status; });
    return code;
  };
  EXPECT_EQ(status("old-token-1"), 200);
  metrics.setAdminToken("new-token-2");  // SIGHUP with a rotated server.admin_token
  EXPECT_EQ(status("old-token-1"), 401);
  EXPECT_EQ(status("new-token-2"), 200);
}

TEST(MetricsTest, HandlerNeedsTheAdminTokenWhenOneIsSet) {
  Metrics metrics;
  metrics.requestDone("track", 200, 1, 0, 1000);
  const std::string token = "admin-secret-123";
  auto refused = call(metrics, token, get());
  EXPECT_EQ(refused.status, 401);
  EXPECT_THAT(refused.body, Not(HasSubstr("sluice_ingest")));
  auto wrong = call(metrics, token, get({{"authorization", "Bearer nope"}}));
  EXPECT_EQ(wrong.status, 401);
  auto allowed = call(metrics, token, get({{"authorization", "Bearer " + token}}));
  EXPECT_EQ(allowed.status, 200);
  EXPECT_EQ(allowed.contentType, Metrics::kContentType);
  EXPECT_THAT(allowed.body, HasSubstr("sluice_ingest_requests_total"));
  EXPECT_THAT(allowed.body, Not(HasSubstr(token)));
  // Without a configured token (loopback only), open.
  EXPECT_EQ(call(metrics, "", get()).status, 200);
  auto post = get({{"authorization", "Bearer " + token}});
  post.method = "POST";
  EXPECT_EQ(call(metrics, token, post).status, 405);
}

class TempDirectory {
 public:
  TempDirectory() {
    path_ = std::filesystem::temp_directory_path() /
            (std::string("sluice-metrics-test-") + std::to_string(::getpid()) + "-" +
             std::to_string(next_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDirectory() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int next_ = 0;
  std::filesystem::path path_;
};

TEST(SnapshotTest, StoreSizeCountsEveryFileAndFreeDiskComesFromTheFilesystem) {
  TempDirectory dir;
  std::filesystem::create_directories(dir.path() + "/sub");
  std::ofstream(dir.path() + "/a.db") << std::string(1000, 'a');
  std::ofstream(dir.path() + "/sub/b.db-wal") << std::string(2345, 'b');
  auto usage = measureStore(dir.path());
  ASSERT_TRUE(usage) << usage.error().toString();
  EXPECT_EQ(usage->sizeBytes, 3345u);
  EXPECT_GT(usage->capacityBytes, 0u);
  EXPECT_LE(usage->freeBytes, usage->capacityBytes);
  EXPECT_FALSE(measureStore(dir.path() + "/missing"));
}

TEST(SnapshotTest, BacklogAndAgeOfTheOldestEventAfterTheCursor) {
  TempDirectory dir;
  FakeClock clock(1'717'243'200'000);
  store::SqliteLogOptions options;
  options.directory = dir.path();
  options.minFreeBytes = 0;
  options.clock = &clock;
  auto log = store::openSqliteLog(options);
  ASSERT_TRUE(log) << log.error().toString();
  for (int i = 0; i < 3; ++i) {
    store::AppendRequest request;
    request.events.push_back(store::NewEvent{"web", std::to_string(1000 + i), "track", "E",
                                             clock.nowMs(), clock.nowMs(), R"({"type":"track"})"});
    ASSERT_TRUE((*log)->appendSync(std::move(request)));
    clock.advanceMs(10'000);
  }
  // Now: 30 s after the first event; events 2 and 3 were received at +10 s and +20 s.
  auto backlog = backlogOf(**log, 1, clock.nowMs());
  ASSERT_TRUE(backlog) << backlog.error().toString();
  EXPECT_EQ(backlog->backlogEvents, 2u);
  EXPECT_EQ(backlog->backlogAgeSeconds, 20.0);
  auto none = backlogOf(**log, 3, clock.nowMs());
  ASSERT_TRUE(none);
  EXPECT_EQ(none->backlogEvents, 0u);
  EXPECT_EQ(none->backlogAgeSeconds, 0.0);
  (*log)->close();
}

// Every metric name used by the deployment files (alert rules, Grafana dashboard) is one that
// /metrics exposes: names are read out of the files and compared with a full exposition.
std::string readFile(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(DeployFilesTest, UseOnlyExposedMetricNames) {
  Metrics metrics;
  metrics.addSources({"web"});
  metrics.requestDone("track", 200, 1, 0, 1000);
  metrics.eventsDone("web", 1, 1, {"missing_field"});
  metrics.setSnapshotSource(knownSnapshot);
  std::set<std::string> exposed;
  std::istringstream lines(metrics.render());
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    exposed.insert(line.substr(0, line.find_first_of("{ ")));
  }
  ASSERT_GT(exposed.size(), 30u);
  const std::regex name("sluice_[a-z0-9_]+");
  for (const std::string file :
       {"/prometheus/sluice-alerts.yml", "/grafana/sluice-dashboard.json"}) {
    const std::string text = readFile(std::string(SLUICE_DEPLOY_DIR) + file);
    size_t used = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), name);
         it != std::sregex_iterator(); ++it) {
      ++used;
      EXPECT_EQ(exposed.count(it->str()), 1u) << file << " uses " << it->str();
    }
    EXPECT_GT(used, 10u) << file;
  }
}

}  // namespace
}  // namespace sluice::ops::metrics
