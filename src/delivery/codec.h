// What a dispatcher needs from a destination type, as a narrow interface: which sources feed it, how
// one stored event becomes zero or more request items, how items become one HTTP request, and how a
// reply is judged. The TikTok Conversions destination satisfies it through tiktok_codec.h; tests use
// small fakes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "delivery/http_client.h"
#include "store/event_log.h"

namespace sluice::delivery {

// One request item (a TikTok `data[]` element), serialised.
struct MappedItem {
  std::string json;
  // Items with equal keys may share one request body (TikTok: event_source and test_event_code;
  // pixel and token are the destination's own). Opaque to the dispatcher; given back to request().
  std::string batchKey;
  std::string eventName;  // what the destination calls the event (TikTok: "CompletePayment"...)
};

// The result of mapping one event: `items` may be empty (no subscription matched) or hold several
// (several subscriptions matched). `error` non-empty: the event (or one of its subscriptions) could
// not be mapped (a validation failure); a dead letter with that reason is written, and the items
// that could be built are still sent.
struct MapOutcome {
  std::vector<MappedItem> items;
  std::string error;
};

enum class Verdict {
  kDelivered,  // accepted
  kRetry,      // try again later (server error, rate limit, timeout)
  kPause,      // the destination's credentials or permissions are wrong: park it
  kDead,       // the request (or one of its items) is invalid: do not send it again as is
};
const char* verdictName(Verdict verdict);  // "delivered", "retry", "pause", "dead"

struct ReplyClass {
  Verdict verdict = Verdict::kRetry;
  int code = 0;            // the body code (TikTok), 0 when none
  std::string message;     // the body message, or a description of the HTTP status
  bool throttled = false;  // kRetry because of a rate limit (429, 40100, 40132, 61000)
};

// Not required to be thread-safe: a dispatcher calls it from its own thread only. A new codec
// (configuration reload) replaces the old one as a whole.
class DestinationCodec {
 public:
  virtual ~DestinationCodec() = default;
  // Whether events of `source` are delivered to this destination.
  virtual bool feeds(std::string_view source) const = 0;
  // Maps one event. `nowMs` is used for events without a usable timestamp.
  virtual MapOutcome map(const store::StoredEvent& event, EpochMs nowMs) = 0;
  // Another codec that maps exactly as this one and may run map() and feeds() on another thread
  // while this one (and other forks) run (it shares what is immutable and has its own scratch):
  // the dispatcher's map pool maps chunks with forks while the dispatcher's thread calls this
  // codec's request() and classify(). Only map() and feeds() are called on a fork.
  // nullptr (the default): this codec maps on the dispatcher's thread, between its other calls.
  virtual std::unique_ptr<DestinationCodec> forkMapper() const { return nullptr; }
  // The request carrying `items` (all with batch key `batchKey`), timeout left to the caller.
  virtual HttpPost request(std::string_view batchKey,
                           const std::vector<std::string_view>& items) = 0;
  // Judges an HTTP reply (status and body). Transport errors never reach this (they are retried).
  virtual ReplyClass classify(int httpStatus, std::string_view body) = 0;
};

}  // namespace sluice::delivery
