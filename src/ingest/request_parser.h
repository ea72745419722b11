// The pure part of the ingestion API: from a decompressed request body to validated, enriched
// events. No I/O, no store, no clock reads (the receive time is given), so it is fuzzed and
// benchmarked on its own. Thread-safe (each thread uses its own JSON parser).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace sluice::ingest {

// The ingestion routes. Single-event routes take the event type from the path.
enum class Route {
  kTrack,
  kPage,
  kIdentify,
  kScreen,
  kGroup,
  kAlias,
  kBatch,    // /v1/batch, /v1/b, /v1/import, /beacon/v1/batch
  kWebhook,  // one event of any type (Segment's Webhooks destination)
};

// The route for a request path (without query), or nullopt when it is not an ingestion route.
// One trailing slash is tolerated.
std::optional<Route> routeForPath(std::string_view path);

// "track", "page", ... for single-event routes; empty for kBatch and kWebhook.
std::string_view routeEventType(Route route);

// Whether `path` is RudderStack's beacon route, which carries the write key in the query string.
bool isBeaconPath(std::string_view path);

// Limits (Segment's): an event at most 32 KB (measured as compact JSON, the way Segment's libraries
// measure it), a request body at most 500 KB (after decompression), at most 2,500 events per batch.
inline constexpr size_t kMaxEventBytes = 32 * 1024;
inline constexpr size_t kMaxRequestBytes = 500 * 1024;
inline constexpr size_t kMaxBatchEvents = 2500;
// Objects and arrays nested deeper than this inside an event are rejected (the event is depth 1).
inline constexpr size_t kMaxDepth = 64;
// Quarantined payloads (the rejected event as compact JSON, or the raw body) are cut to this size.
inline constexpr size_t kMaxQuarantinePayloadBytes = 64 * 1024;
// Longer messageIds are rejected.
inline constexpr size_t kMaxMessageIdBytes = 1024;

struct ParseContext {
  Route route = Route::kTrack;
  EpochMs receivedAtMs = 0;
  std::string_view clientIp;  // added as context.ip when the event has none; empty: not added
  Random* random = nullptr;   // source of assigned messageIds; required
};

// An accepted event, enriched and serialised.
struct ParsedEvent {
  std::string messageId;
  std::string type;
  std::string name;  // the `event` of a track, else empty
  EpochMs timestampMs = 0;
  std::string json;
};

// An event of the request that was not accepted.
struct RejectedEvent {
  size_t index = 0;     // its position in the batch (0 for single-event routes)
  std::string reason;   // names the problem, without secrets
  std::string payload;  // the event as sent (compact JSON, writeKey removed, bounded)
};

struct ParsedRequest {
  std::vector<ParsedEvent> events;
  std::vector<RejectedEvent> rejected;
  std::string writeKey;  // from the body (batch envelope or the single event); empty when absent
  size_t total = 0;      // events in the request (accepted + rejected)
};

// Parses, validates and enriches a decompressed body for `context.route`. A problem with the whole
// request (invalid JSON or UTF-8, nesting, over the request or batch limit, no batch array) is an
// Error with code kInvalidArgument or kResourceExhausted (limits) whose message names it. Problems
// of single events are RejectedEvents; for single-event routes an invalid event is a RejectedEvent
// with index 0 (the caller answers 400).
Result<ParsedRequest> parseRequest(std::string_view body, const ParseContext& context);

// Decompresses a body sent with `Content-Encoding: contentEncoding` ("", "identity", "gzip",
// "x-gzip", "deflate"). Fails with kInvalidArgument for a corrupt stream, kResourceExhausted when the
// result would exceed `maxBytes` (gzip bombs stop there), kNotFound for an unsupported encoding.
Result<std::string> decodeBody(std::string_view body, std::string_view contentEncoding,
                               size_t maxBytes);

// A new messageId: "sluice-" and a random UUID v4.
std::string newMessageId(Random& random);

// `text` cut to at most `maxBytes` on a UTF-8 boundary, with invalid UTF-8 replaced by U+FFFD, so
// that a quarantined payload is always printable text.
std::string boundedText(std::string_view text, size_t maxBytes);

}  // namespace sluice::ingest
