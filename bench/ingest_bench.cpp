// Ingest's share of the per-event cost: parsing, validation, enrichment and serialisation of
// ~1 KB Segment events, alone (parseRequest) and through Api::handle with a store that completes
// at once. Target: <= 2 us per 1 KB event on one core.
//   build/release/bench/ingest_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <string>

#include "config/config.h"
#include "core/clock.h"
#include "ingest/api.h"
#include "ingest/request_parser.h"
#include "store/event_log.h"

#include <simdjson.h>

namespace {

using namespace sluice;

// A browser-like track event of about 1 KB (as analytics-next sends it).
std::string trackEvent(int i) {
  return R"({"type":"track","event":"Order Completed","userId":"user-)" + std::to_string(i) +
         R"(","anonymousId":"6f1c2e0a-3b9d-4c55-9a1e-2f0d7b8c4e21","messageId":"ajs-next-)" +
         std::to_string(1700000000000 + i) +
         R"(-4c2a9f1e","timestamp":"2024-06-01T11:59:58.120Z",)"
         R"("properties":{"order_id":"ORD-50314","total":129.95,"revenue":119.95,"currency":"USD",)"
         R"("products":[{"product_id":"SKU-1","sku":"SKU-1","name":"Trail Runner 2","price":89.95,)"
         R"("quantity":1,"category":"Shoes"},{"product_id":"SKU-9","sku":"SKU-9",)"
         R"("name":"Wool Socks","price":20,"quantity":2,"category":"Accessories"}]},)"
         R"("context":{"library":{"name":"analytics.js","version":"next-1.84.3"},)"
         R"("page":{"path":"/checkout/done","referrer":"https://shop.example/cart",)"
         R"("search":"?ttclid=E.C.P.abc123","title":"Thank you","url":)"
         R"("https://shop.example/checkout/done?ttclid=E.C.P.abc123"},)"
         R"("userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) )"
         R"(Chrome/126.0 Safari/537.36","locale":"en-US","traits":{"email":"jane@example.com",)"
         R"("phone":"+1 415 555 0100"}},"integrations":{},"sentAt":"2024-06-01T11:59:58.300Z",)"
         R"("_metadata":{"bundled":["Segment.io"],"unbundled":[],"bundledIds":[]}})";
}

std::string batchBody(int events) {
  std::string body = R"({"batch":[)";
  for (int i = 0; i < events; ++i) {
    if (i > 0) body.push_back(',');
    body += trackEvent(i);
  }
  return body + R"(],"sentAt":"2024-06-01T11:59:58.300Z","writeKey":"bench-key"})";
}

void BM_ParseTrack(benchmark::State& state) {
  DefaultRandom random(1);
  std::string body = trackEvent(1);
  ingest::ParseContext context{ingest::Route::kTrack, 1'717'243'200'000, "203.0.113.9", &random};
  for (auto _ : state) {
    auto parsed = ingest::parseRequest(body, context);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
  state.counters["event_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_ParseTrack);

void BM_ParseBatch(benchmark::State& state) {
  DefaultRandom random(1);
  const int events = static_cast<int>(state.range(0));
  std::string body = batchBody(events);
  ingest::ParseContext context{ingest::Route::kBatch, 1'717'243'200'000, "203.0.113.9", &random};
  for (auto _ : state) {
    auto parsed = ingest::parseRequest(body, context);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations() * events);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ParseBatch)->Arg(100)->Arg(400);

// The floor: simdjson's DOM parse of the same batch, nothing else (to compare on a busy machine).
void BM_SimdjsonParseOnly(benchmark::State& state) {
  const int events = static_cast<int>(state.range(0));
  std::string body = batchBody(events);
  simdjson::dom::parser parser;
  for (auto _ : state) {
    simdjson::dom::element root;
    auto error = parser.parse(body).get(root);
    benchmark::DoNotOptimize(error);
  }
  state.SetItemsProcessed(state.iterations() * events);
}
BENCHMARK(BM_SimdjsonParseOnly)->Arg(100);

// Completes every append at once, storing nothing.
class NullLog final : public store::EventLog {
 public:
  void append(store::AppendRequest request,
              std::function<void(Result<store::AppendOutcome>)> done) override {
    store::AppendOutcome outcome;
    outcome.stored = request.events.size();
    done(outcome);
  }
  Result<std::vector<store::StoredEvent>> readAfter(store::Seq, size_t) override { return {}; }
  Result<void> scan(const store::TimeRange&, std::optional<std::string>,
                    const std::function<bool(const store::StoredEvent&)>&) override {
    return ok();
  }
  Result<store::Seq> lastSeq() override { return store::Seq{0}; }
  Result<uint64_t> count() override { return uint64_t{0}; }
  Result<store::Seq> cursor(std::string_view) override { return store::Seq{0}; }
  Result<void> setCursor(std::string_view, store::Seq) override { return ok(); }
  Result<void> dropCursor(std::string_view) override { return ok(); }
  Result<uint64_t> applyRetention(EpochMs) override { return uint64_t{0}; }
  Result<std::vector<store::QuarantinedEvent>> listQuarantine(size_t, int64_t) override {
    return std::vector<store::QuarantinedEvent>{};
  }
  store::WriteHealth writeHealth() override { return {}; }
  void close() override {}
};

void BM_ApiBatch(benchmark::State& state) {
  config::Config config;
  config.sources.push_back(config::SourceConfig{"web", "bench-key", {}});
  NullLog log;
  ingest::Api api(config, log, SystemClock::instance());
  const int events = static_cast<int>(state.range(0));
  std::string body = batchBody(events);
  int failures = 0;
  for (auto _ : state) {
    http::Request request;
    request.method = "POST";
    request.path = "/v1/batch";
    request.body = body;
    request.headers = {{"content-type", "application/json"}};
    request.peerAddress = "198.51.100.7";
    api.handle(std::move(request), [&](http::Response response) {
      if (response.status != 200) ++failures;
    });
  }
  if (failures > 0) state.SkipWithError("non-200 replies");
  state.SetItemsProcessed(state.iterations() * events);
}
BENCHMARK(BM_ApiBatch)->Arg(100);

}  // namespace

BENCHMARK_MAIN();
