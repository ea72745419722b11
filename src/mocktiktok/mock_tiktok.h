// The fake TikTok Events API: validates `POST /open_api/v1.3/event/track/` bodies as TikTok does,
// answers in TikTok's reply format, records what it accepted, and plays a Scenario over time.
// Plus a small control API for tests and drills:
//   GET  /mock/stats            counts of requests, events, replies per code and HTTP status
//   GET  /mock/events?since=N&limit=M   accepted events (the last `keepEvents`), oldest first
//   POST /mock/scenario         replace the scenario (YAML or JSON body); its clock restarts
//   POST /mock/reset            forget recorded events and counters
// No sockets here: handle() maps a request to a Decision that mock_server.h carries out.
#pragma once

#include <cstdint>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "http/message.h"
#include "mocktiktok/scenario.h"

namespace sluice::mocktiktok {

inline constexpr std::string_view kTrackPath = "/open_api/v1.3/event/track/";

// What the server should do with one request.
struct Decision {
  enum class Kind {
    kRespond,       // send `response` now
    kRespondLater,  // send `response` after delayMs (slow mode)
    kHold,          // answer nothing until the client gives up (timeout mode); the server answers
                    // 504 after its hold limit so that nothing stays open for ever
    kDrop,          // close the connection without a reply (drop mode)
  };
  Kind kind = Kind::kRespond;
  http::Response response;
  int64_t delayMs = 0;
};

// The outcome of validating one track body as TikTok would.
struct Validation {
  int code = 0;             // 0 when valid; TikTok's error code otherwise
  std::string message = "OK";
  size_t events = 0;        // events in data[] (valid or not)
  std::string eventSource;
  std::string eventSourceId;
  std::string testEventCode;
  std::vector<std::string> eventJson;  // the accepted events, minified (only when asked for)
};

// Validates a track body (pure; thread-safe). Checks: JSON object; event_source in web, app,
// offline, crm; event_source_id a non-empty string; data a non-empty array of at most 1,000
// objects; each with `event` a non-empty string (offline: a standard event name), integer
// `event_time`, `event_id` a string when present; user.email / phone / external_id / first_name /
// last_name / zip_code a string or array of strings, each empty or 64 lower-case hex (SHA-256);
// properties.contents[].content_id a string when present. Error messages follow TikTok's style
// ("Invalid value for event_id: not a valid string.").
Validation validateTrackBody(std::string_view body, bool keepEvents);

// True for TikTok's standard web event names (tiktok-events-api.md section 4).
bool isStandardEventName(std::string_view name);

struct MockOptions {
  std::string recordPath;      // when set, accepted events are appended here as JSON lines
  size_t keepEvents = 100'000;  // accepted events kept in memory for GET /mock/events
};

struct MockStats {
  uint64_t requests = 0;         // track requests received
  uint64_t eventsAccepted = 0;   // events in bodies answered with code 0
  uint64_t eventsRejected = 0;   // events in bodies answered with another code or HTTP error
  std::map<int, uint64_t> byCode;        // TikTok body code -> replies (HTTP 200 only)
  std::map<int, uint64_t> byHttpStatus;  // HTTP status -> replies
  uint64_t held = 0;             // requests held (timeout) or dropped
  std::string phase;             // the current phase's mode name ("ok" when none)
  int phaseIndex = -1;
};

struct RecordedEvent {
  uint64_t seq = 0;  // 1, 2, ... in acceptance order
  std::string eventSource;
  std::string eventSourceId;
  std::string testEventCode;
  std::string json;  // the event object as sent, minified
};

// Thread-safe: handle() may run on many server threads at once.
class MockTikTok {
 public:
  // Fails (kIo) when the record file cannot be opened.
  static Result<std::unique_ptr<MockTikTok>> create(const Clock& clock, MockOptions options,
                                                    Scenario scenario = {});

  // Routes every request: the track endpoint and the /mock/* control API; 404 otherwise.
  Decision handle(const http::Request& request);

  // Replaces the scenario; its time starts now.
  void setScenario(Scenario scenario);
  MockStats stats() const;
  std::vector<RecordedEvent> events(uint64_t sinceSeq = 0, size_t limit = SIZE_MAX) const;
  void reset();

  // The JSON of stats() as GET /mock/stats serves it.
  std::string statsJson() const;

 private:
  MockTikTok(const Clock& clock, MockOptions options, Scenario scenario);
  Decision handleTrack(const http::Request& request);
  http::Response tikTokReply(int code, std::string_view message);
  void count(int httpStatus, int code, size_t events, bool accepted);  // takes mutex_
  const Phase* currentPhase(int* index) const;                          // REQUIRES(mutex_)

  const Clock& clock_;
  const MockOptions options_;
  mutable std::mutex mutex_;
  Scenario scenario_;              // GUARDED_BY(mutex_)
  int64_t scenarioStartNs_ = 0;    // GUARDED_BY(mutex_)
  MockStats stats_;                // GUARDED_BY(mutex_)
  std::deque<RecordedEvent> kept_;  // GUARDED_BY(mutex_)
  uint64_t nextSeq_ = 1;           // GUARDED_BY(mutex_)
  uint64_t nextRequestId_ = 1;     // GUARDED_BY(mutex_)
  std::ofstream record_;           // GUARDED_BY(mutex_)
};

}  // namespace sluice::mocktiktok
