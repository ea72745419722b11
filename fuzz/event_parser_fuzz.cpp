// libFuzzer target over ingest's request parsing: any bytes, on any route, possibly as a gzip
// stream. Checks the parser's promises: no crash, every event or rejection is accounted for, and
// every accepted event is valid JSON that carries the enrichment fields.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "core/clock.h"
#include "ingest/request_parser.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::ingest;
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  constexpr Route kRoutes[] = {Route::kTrack, Route::kPage,  Route::kIdentify, Route::kScreen,
                               Route::kGroup, Route::kAlias, Route::kBatch,    Route::kWebhook};
  const Route route = kRoutes[selector & 7];

  std::string body(input);
  if (selector & 0x80) {
    auto decoded = decodeBody(input, "gzip", kMaxRequestBytes);
    if (!decoded) return 0;
    check(decoded->size() <= kMaxRequestBytes);
    body = std::move(*decoded);
  }

  sluice::DefaultRandom random(selector);
  ParseContext context{route, 1'717'243'200'000, (selector & 0x40) ? "203.0.113.1" : "",
                       &random};
  auto parsed = parseRequest(body, context);
  if (!parsed) {
    check(!parsed.error().message.empty());
    return 0;
  }
  check(parsed->events.size() + parsed->rejected.size() == parsed->total);
  check(parsed->total <= kMaxBatchEvents);
  simdjson::dom::parser checker;
  for (const auto& event : parsed->events) {
    simdjson::dom::element root;
    check(checker.parse(event.json).get(root) == simdjson::SUCCESS);
    simdjson::dom::object object;
    check(root.get(object) == simdjson::SUCCESS);
    std::string_view text;
    check(object["messageId"].get(text) == simdjson::SUCCESS && text == event.messageId);
    check(object["type"].get(text) == simdjson::SUCCESS && text == event.type);
    check(object["receivedAt"].get(text) == simdjson::SUCCESS);
    check(object["writeKey"].error() == simdjson::NO_SUCH_FIELD);
  }
  size_t previous = 0;
  for (size_t i = 0; i < parsed->rejected.size(); ++i) {
    const auto& rejected = parsed->rejected[i];
    check(rejected.index < parsed->total);
    check(i == 0 || rejected.index > previous);
    previous = rejected.index;
    check(!rejected.reason.empty());
    check(rejected.payload.size() <= kMaxQuarantinePayloadBytes);
    check(simdjson::validate_utf8(rejected.payload.data(), rejected.payload.size()));
  }
  // boundedText always yields valid UTF-8 within its bound.
  std::string bounded = boundedText(input, 100);
  check(bounded.size() <= 100);
  check(simdjson::validate_utf8(bounded.data(), bounded.size()));
  return 0;
}
