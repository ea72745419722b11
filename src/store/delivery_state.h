// Delivery state: what the dispatchers record about events whose fate is final but that were not
// delivered (dead letters, expired events), and whether a destination is paused. Kept beside the
// event log, in its own SQLite file `<storage.path>/delivery.db` (WAL, synchronous=FULL), so that a
// record is durable before the destination's cursor moves past its event.
//
// Crash safety (see src/delivery/README.md): a dispatcher advances its cursor only past events that
// were delivered or written here; events in flight or waiting for a retry stay after the cursor and
// are read again after a restart. So no retry set is persisted: the log is the retry set.
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
#include "store/event_log.h"

namespace sluice::store {

// One event (or one mapped TikTok item of an event) that will not be delivered by itself.
struct DeadLetter {
  int64_t id = 0;              // assigned by the store
  std::string destination;
  Seq seq = 0;                 // the event's position in the log
  std::string source;
  std::string messageId;
  EpochMs eventTimeMs = 0;     // the event's timestamp
  EpochMs receivedAtMs = 0;
  std::string eventJson;       // the raw event as stored in the log
  std::string itemJson;        // the mapped TikTok data[] item; empty when mapping failed
  std::string reason;          // "mapping": mapping failed; "rejected": TikTok refused the event
  int code = 0;                // TikTok's reply code (0 when not from TikTok)
  std::string message;         // TikTok's message, or the mapping error
  EpochMs createdMs = 0;
};

// The log event a dead letter keeps, to send it again (its type and name are not kept: empty).
inline StoredEvent eventOf(const DeadLetter& letter) {
  StoredEvent event;
  event.seq = letter.seq;
  event.source = letter.source;
  event.messageId = letter.messageId;
  event.receivedAtMs = letter.receivedAtMs;
  event.timestampMs = letter.eventTimeMs;
  event.json = letter.eventJson;
  return event;
}

// An event too old to send (older than the destination's max event age), kept for export.
struct ExpiredEvent {
  int64_t id = 0;
  std::string destination;
  Seq seq = 0;
  std::string source;
  std::string messageId;
  EpochMs eventTimeMs = 0;
  EpochMs receivedAtMs = 0;
  std::string eventJson;
  std::string itemJson;  // the mapped TikTok item (hashed PII), empty when mapping failed
  EpochMs expiredAtMs = 0;
};

struct PauseState {
  std::string reason;  // e.g. "40105 invalid access token"; never contains the token
  EpochMs sinceMs = 0;
};

// Selects records of one destination by event time: [sinceMs, untilMs).
struct EventTimeRange {
  EpochMs sinceMs = INT64_MIN;
  EpochMs untilMs = INT64_MAX;
};

// Thread-safe. Every write is one transaction, fsync'd before the call returns.
class DeliveryState {
 public:
  virtual ~DeliveryState() = default;

  // Stores dead letters and expired events together (one transaction). Ids are assigned.
  virtual Result<void> record(const std::vector<DeadLetter>& dead,
                              const std::vector<ExpiredEvent>& expired) = 0;

  // Dead letters of `destination` with id > afterId, ascending, at most `max`.
  virtual Result<std::vector<DeadLetter>> listDeadLetters(std::string_view destination,
                                                          size_t max, int64_t afterId = 0) = 0;
  // One dead letter; kNotFound when there is none with that id for that destination.
  virtual Result<DeadLetter> deadLetter(std::string_view destination, int64_t id) = 0;
  // Deletes the given dead letters (all of the destination when `ids` is empty). Returns how many.
  virtual Result<uint64_t> dropDeadLetters(std::string_view destination,
                                           const std::vector<int64_t>& ids) = 0;
  virtual Result<uint64_t> countDeadLetters(std::string_view destination) = 0;

  // Visits records of `destination` whose event time is in `range`, by id, until `visit` is false.
  virtual Result<void> scanDeadLetters(std::string_view destination, const EventTimeRange& range,
                                       const std::function<bool(const DeadLetter&)>& visit) = 0;
  virtual Result<void> scanExpired(std::string_view destination, const EventTimeRange& range,
                                   const std::function<bool(const ExpiredEvent&)>& visit) = 0;
  virtual Result<uint64_t> countExpired(std::string_view destination) = 0;

  // Marks a destination paused (with a reason) or running (nullopt).
  virtual Result<void> setPaused(std::string_view destination,
                                 std::optional<PauseState> state) = 0;
  virtual Result<std::optional<PauseState>> pauseState(std::string_view destination) = 0;
};

// Opens (creating when needed) `<directory>/delivery.db`. `clock` stamps createdMs / expiredAtMs
// when the caller left them 0, and must outlive the state.
Result<std::unique_ptr<DeliveryState>> openSqliteDeliveryState(const std::string& directory,
                                                               const Clock& clock);

}  // namespace sluice::store
