// The event log: the durable source of truth. Ingest appends; each destination reads from its own
// cursor; CLI tools read by time range. Implemented by the embedded SQLite store (sqlite_log.h) and,
// later, by NATS JetStream for clusters.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace sluice::store {

// Positions in the log. Sequence numbers are assigned on append, strictly increasing, never reused.
using Seq = uint64_t;

// An event as ingest hands it over: already validated and enriched.
struct NewEvent {
  std::string source;     // the source's configured name
  std::string messageId;  // Segment messageId (assigned by ingest when missing)
  std::string type;       // track, page, identify, screen, group, alias
  std::string name;       // the `event` of a track, else empty
  EpochMs receivedAtMs = 0;
  EpochMs timestampMs = 0;  // the corrected event time
  std::string json;         // the enriched event, serialised
};

// Spare capacity that `StoredEvent::json` has when read from a log, so that parsers that read past
// the end of their input (simdjson needs 64 bytes) parse it in place rather than copying it.
inline constexpr size_t kStoredJsonSlack = 64;

struct StoredEvent {
  Seq seq = 0;
  std::string source;
  std::string messageId;
  std::string type;
  std::string name;
  EpochMs receivedAtMs = 0;
  EpochMs timestampMs = 0;
  std::string json;  // read from a log: capacity() >= size() + kStoredJsonSlack
};

// Event `n` of `out` for a reader that fills `out` from the front (readAfterInto(),
// delivery::EventFeed::read()): appended when `out` holds exactly n events, else the one already
// there, whose strings the reader overwrites.
inline StoredEvent& fillSlot(std::vector<StoredEvent>& out, size_t n) {
  if (n == out.size()) out.emplace_back();
  return out[n];
}

// Something a client sent that could not be accepted, kept so that nothing disappears unseen.
struct QuarantinedEvent {
  int64_t id = 0;           // assigned by the store
  std::string source;
  EpochMs receivedAtMs = 0;
  std::string reason;       // why it was rejected
  std::string payload;      // what was sent (possibly truncated to a bound the store documents)
};

struct AppendRequest {
  std::vector<NewEvent> events;
  std::vector<QuarantinedEvent> rejected;
};

struct AppendOutcome {
  size_t stored = 0;      // new events written
  size_t duplicates = 0;  // acknowledged but not stored (same source + messageId in the window)
  size_t quarantined = 0;
  Seq lastSeq = 0;        // the log's last sequence number after the commit
};

// How the store's flushes to disk have gone since it was opened (the flushes that acknowledge
// appends; their time bounds how soon a reply can be sent).
struct FlushStats {
  uint64_t flushes = 0;  // completed, successful or not
  uint64_t failures = 0;
  double seconds = 0;    // their total duration
  uint64_t commits = 0;  // write transactions committed; each flush makes one or more durable
};

// Whether the store accepts writes now, and why not.
struct WriteHealth {
  bool writable = true;
  std::string reason;         // empty when writable
  int64_t retryAfterMs = 0;   // a hint for ingest's Retry-After
  // Why the last write failed (I/O error, disk full, failed flush) when none has succeeded since;
  // empty otherwise. Also set while `writable` lets the next append through to try the disk again,
  // so that whoever looks now and then (the storage alert) sees the failure whenever it looks.
  std::string failure;
};

struct TimeRange {
  EpochMs sinceMs = 0;                 // inclusive, by receivedAt
  EpochMs untilMs = INT64_MAX;         // exclusive
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Appends durably: `done` runs once every event and rejection of `request` is fsync'd (or with
  // the error that prevented it, in which case none of them is stored). Concurrent appends share one
  // transaction and one fsync (group commit). `done` runs on a store thread and must not block.
  // Thread-safe.
  virtual void append(AppendRequest request, std::function<void(Result<AppendOutcome>)> done) = 0;

  // The blocking form of append(), for tools and tests.
  Result<AppendOutcome> appendSync(AppendRequest request);

  // Up to `max` events with seq > `after`, ascending. Thread-safe.
  virtual Result<std::vector<StoredEvent>> readAfter(Seq after, size_t max) = 0;

  // The same into the first N elements of `out`, returning N. `out` grows when it is too short and
  // never shrinks: elements from N on are left as they were, so that a reader passing the same
  // vector each time (delivery's dispatcher) reuses their strings' buffers and allocates nothing
  // per event once it has grown. On an error `out` is unspecified. The default copies readAfter()'s
  // events in. Thread-safe.
  virtual Result<size_t> readAfterInto(Seq after, size_t max, std::vector<StoredEvent>& out);

  // Visits the events received in `range` (optionally of one source) in seq order until `visit`
  // returns false. Thread-safe.
  virtual Result<void> scan(const TimeRange& range, std::optional<std::string> source,
                            const std::function<bool(const StoredEvent&)>& visit) = 0;

  // The last sequence number durably written (0 when empty): readers see up to it. And the number
  // of events held: count() reads the whole log (the SQLite log walks every page of its events
  // table), so it is for tests and tools, never for a periodic probe.
  virtual Result<Seq> lastSeq() = 0;
  virtual Result<uint64_t> count() = 0;

  // A consumer's cursor: the seq up to which it has finished (0 when never set). Durable.
  virtual Result<Seq> cursor(std::string_view consumer) = 0;
  virtual Result<void> setCursor(std::string_view consumer, Seq seq) = 0;
  // Removes a consumer's cursor (so that it no longer holds back retention).
  virtual Result<void> dropCursor(std::string_view consumer) = 0;

  // Deletes events received before `beforeMs` that every registered cursor has passed, and dedup
  // entries past their window. Returns the number of events deleted.
  virtual Result<uint64_t> applyRetention(EpochMs beforeMs) = 0;

  // Quarantined input, newest first.
  virtual Result<std::vector<QuarantinedEvent>> listQuarantine(size_t max, int64_t beforeId) = 0;

  // Whether writes are accepted now (free-space floor, last I/O error).
  virtual WriteHealth writeHealth() = 0;

  // Counters of the flushes to disk since open (zero for a store that does not flush). Thread-safe.
  virtual FlushStats flushStats() { return {}; }

  // Stops accepting appends, completes the queued ones, and flushes. Idempotent.
  virtual void close() = 0;
};

}  // namespace sluice::store
