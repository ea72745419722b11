#include "mocktiktok/mock_tiktok.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>

#include "core/json_text.h"

namespace sluice::mocktiktok {

namespace {

constexpr size_t kMaxEvents = 1000;

constexpr std::array<std::string_view, 22> kStandardEvents = {
    "AddPaymentInfo", "AddToCart",        "AddToWishlist",        "ApplicationApproval",
    "ClickButton",    "CompletePayment",  "CompleteRegistration", "Contact",
    "CustomizeProduct", "Download",       "FindLocation",         "InitiateCheckout",
    "Lead",           "PlaceAnOrder",     "Purchase",             "Schedule",
    "Search",         "StartTrial",       "SubmitApplication",    "SubmitForm",
    "Subscribe",      "ViewContent"};

constexpr std::array<std::string_view, 6> kHashedUserFields = {
    "email", "phone", "external_id", "first_name", "last_name", "zip_code"};

bool isSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Validation invalid(Validation v, int code, std::string message) {
  v.code = code;
  v.message = std::move(message);
  v.eventJson.clear();
  return v;
}

// One hashed PII value: a string or an array of strings, each empty or a SHA-256 hex digest.
// Returns what is wrong with it (the end of an error message), or an empty view. Messages are only
// built on failure: a valid body allocates nothing per event here.
std::string_view checkHashed(simdjson::dom::element value) {
  auto check = [](simdjson::dom::element item) -> std::string_view {
    std::string_view s;
    if (item.get_string().get(s)) return "not a valid string.";
    if (!s.empty() && !isSha256Hex(s)) return "must be hashed with SHA-256 (64 lower-case hex).";
    return {};
  };
  simdjson::dom::array array;
  if (!value.get_array().get(array)) {
    for (simdjson::dom::element item : array) {
      if (std::string_view problem = check(item); !problem.empty()) return problem;
    }
    return {};
  }
  return check(value);
}

}  // namespace

bool isStandardEventName(std::string_view name) {
  return std::find(kStandardEvents.begin(), kStandardEvents.end(), name) != kStandardEvents.end();
}

Validation validateTrackBody(std::string_view body, bool keepEvents) {
  thread_local simdjson::dom::parser parser;
  Validation v;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root)) {
    return invalid(std::move(v), 40002, "Invalid JSON in request body.");
  }
  simdjson::dom::object top;
  if (root.get_object().get(top)) {
    return invalid(std::move(v), 40002, "Request body must be a JSON object.");
  }
  std::string_view text;
  if (top["event_source"].get_string().get(text)) {
    return invalid(std::move(v), 40002, "event_source: Missing data for required field.");
  }
  if (text != "web" && text != "app" && text != "offline" && text != "crm") {
    return invalid(std::move(v), 40002,
                   "Invalid value for event_source: must be one of web, app, offline, crm.");
  }
  v.eventSource = std::string(text);
  simdjson::dom::element field;
  if (top["event_source_id"].get(field)) {
    return invalid(std::move(v), 40002, "event_source_id: Missing data for required field.");
  }
  if (field.get_string().get(text) || text.empty()) {
    return invalid(std::move(v), 40002, "Invalid value for event_source_id: not a valid string.");
  }
  v.eventSourceId = std::string(text);
  if (!top["test_event_code"].get(field)) {
    if (field.get_string().get(text)) {
      return invalid(std::move(v), 40002,
                     "Invalid value for test_event_code: not a valid string.");
    }
    v.testEventCode = std::string(text);
  }
  simdjson::dom::array data;
  if (top["data"].get_array().get(data)) {
    return invalid(std::move(v), 40002, "data: Missing data for required field.");
  }
  v.events = data.size();
  if (v.events == 0) return invalid(std::move(v), 40002, "data: Field may not be empty.");
  if (v.events > kMaxEvents) {
    return invalid(std::move(v), 40002,
                   "data: Length must be between 1 and 1000. Got " + std::to_string(v.events) +
                       " events.");
  }
  if (keepEvents) v.eventJson.reserve(v.events);
  size_t i = 0;
  for (simdjson::dom::element item : data) {
    auto at = [&i] { return "data." + std::to_string(i); };  // for error messages only
    simdjson::dom::object event;
    if (item.get_object().get(event)) {
      return invalid(std::move(v), 40002, at() + ": Not an object.");
    }
    if (event["event"].get_string().get(text) || text.empty()) {
      return invalid(std::move(v), 40002, at() + ".event: Missing data for required field.");
    }
    if (v.eventSource == "offline" && !isStandardEventName(text)) {
      return invalid(std::move(v), 40002,
                     "Invalid value for " + at() + ".event: offline events take standard names.");
    }
    if (event["event_time"].get(field)) {
      return invalid(std::move(v), 40002, at() + ".event_time: Missing data for required field.");
    }
    if (!field.is_int64() && !field.is_uint64()) {
      return invalid(std::move(v), 40002,
                     "Invalid value for " + at() + ".event_time: not a valid integer.");
    }
    if (!event["event_id"].get(field) && !field.is_string()) {
      return invalid(std::move(v), 40002, "Invalid value for event_id: not a valid string.");
    }
    simdjson::dom::object user;
    if (!event["user"].get_object().get(user)) {
      for (std::string_view name : kHashedUserFields) {
        if (user[name].get(field)) continue;
        if (std::string_view problem = checkHashed(field); !problem.empty()) {
          return invalid(std::move(v), 40002,
                         "Invalid value for " + at() + ".user." + std::string(name) + ": " +
                             std::string(problem));
        }
      }
    }
    simdjson::dom::array contents;
    if (!event.at_pointer("/properties/contents").get_array().get(contents)) {
      size_t j = 0;
      for (simdjson::dom::element content : contents) {
        if (!content["content_id"].get(field) && !field.is_string()) {
          return invalid(std::move(v), 40002,
                         at() + ".properties.contents." + std::to_string(j) +
                             ".content_id: Not a valid string");
        }
        ++j;
      }
    }
    if (keepEvents) v.eventJson.push_back(simdjson::minify(item));
    ++i;
  }
  return v;
}

// ---- MockTikTok ----------------------------------------------------------------------------------

Result<std::unique_ptr<MockTikTok>> MockTikTok::create(const Clock& clock, MockOptions options,
                                                       Scenario scenario) {
  std::unique_ptr<MockTikTok> mock(new MockTikTok(clock, std::move(options), std::move(scenario)));
  if (!mock->options_.recordPath.empty()) {
    mock->record_.open(mock->options_.recordPath, std::ios::app);
    if (!mock->record_) {
      return fail(ErrorCode::kIo, "cannot open record file " + mock->options_.recordPath);
    }
  }
  return mock;
}

MockTikTok::MockTikTok(const Clock& clock, MockOptions options, Scenario scenario)
    : clock_(clock),
      options_(std::move(options)),
      scenario_(std::move(scenario)),
      scenarioStartNs_(clock.monotonicNs()) {}

void MockTikTok::setScenario(Scenario scenario) {
  std::lock_guard lock(mutex_);
  scenario_ = std::move(scenario);
  scenarioStartNs_ = clock_.monotonicNs();
}

const Phase* MockTikTok::currentPhase(int* index) const {
  int64_t elapsedMs = (clock_.monotonicNs() - scenarioStartNs_) / 1'000'000;
  return phaseAt(scenario_, elapsedMs, index);
}

void MockTikTok::count(int httpStatus, int code, size_t events, bool accepted) {
  std::lock_guard lock(mutex_);
  ++stats_.byHttpStatus[httpStatus];
  if (httpStatus == 200) ++stats_.byCode[code];
  (accepted ? stats_.eventsAccepted : stats_.eventsRejected) += events;
}

http::Response MockTikTok::tikTokReply(int code, std::string_view message) {
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = nextRequestId_++;
  }
  char requestId[48];
  std::snprintf(requestId, sizeof requestId, "%lld%010llu", static_cast<long long>(clock_.nowMs()),
                static_cast<unsigned long long>(id));
  http::Response response;
  response.status = 200;
  response.body = "{\"code\":" + std::to_string(code) + ",\"message\":";
  appendJsonString(response.body, message);
  response.body += ",\"request_id\":\"";
  response.body += requestId;
  response.body += "\",\"data\":{}}";
  return response;
}

namespace {

std::string codeMessage(int code, std::string_view pixel) {
  switch (code) {
    case 0: return "OK";
    case 20001: return "Partial success.";
    case 40001:
      return "No permission to operate pixel code: " + std::string(pixel) +
             ". You must be an admin or operator of this advertiser account.";
    case 40100: return "Too many requests. Please retry in some time.";
    case 40102: return "Access token has expired.";
    case 40104: return "Access token is null. Please check the Access-Token header.";
    case 40105: return "Access token is invalid or has been revoked.";
    case 40132: return "Request frequency is limited. Please retry in some time.";
    case 40300: return "Advertiser does not exist.";
    case 50000: return "System error. Please retry later.";
    case 50002: return "System timeout. Please retry later.";
    case 60001: return "The system is under maintenance. Please retry later.";
    default: return "Error " + std::to_string(code) + ".";
  }
}

std::string statusPage(int status) {
  return "<html><head><title>" + std::to_string(status) + "</title></head><body><center><h1>" +
         std::to_string(status) + "</h1></center><hr><center>nginx</center></body></html>";
}

}  // namespace

Decision MockTikTok::handleTrack(const http::Request& request) {
  Decision decision;
  if (request.method != "POST") {
    decision.response = http::Response{405, "application/json", {}, "{\"error\":\"use POST\"}"};
    return decision;
  }
  std::string_view token = request.header("access-token");
  {
    std::lock_guard lock(mutex_);
    ++stats_.requests;
  }
  if (token.empty()) {
    count(200, 40104, 0, false);
    decision.response = tikTokReply(40104, codeMessage(40104, ""));
    return decision;
  }
  Phase phase;
  bool applies = false;
  {
    std::lock_guard lock(mutex_);
    int index;
    if (const Phase* p = currentPhase(&index)) {
      applies = (p->token.empty() || p->token == token) &&
                (p->exceptToken.empty() || p->exceptToken != token);
      if (applies) phase = *p;
    }
  }
  if (applies) {
    switch (phase.mode) {
      case Mode::kHttpStatus:
        count(phase.status, 0, 0, false);
        decision.response = http::Response{phase.status, "text/html", {}, statusPage(phase.status)};
        return decision;
      case Mode::kCode: {
        count(200, phase.code, 0, false);
        std::string pixel = phase.code == 40001 ? validateTrackBody(request.body, false).eventSourceId
                                                : std::string();
        decision.response = tikTokReply(phase.code, codeMessage(phase.code, pixel));
        return decision;
      }
      case Mode::kTimeout:
      case Mode::kDrop: {
        std::lock_guard lock(mutex_);
        ++stats_.held;
        decision.kind = phase.mode == Mode::kTimeout ? Decision::Kind::kHold : Decision::Kind::kDrop;
        return decision;
      }
      case Mode::kSlow:
        decision.kind = Decision::Kind::kRespondLater;
        decision.delayMs = phase.delayMs;
        break;
      case Mode::kOk:
        break;
    }
  }
  bool keep = options_.keepEvents > 0 || !options_.recordPath.empty();
  Validation v = validateTrackBody(request.body, keep);
  count(200, v.code, v.events, v.code == 0);
  if (v.code == 0 && keep) {
    std::lock_guard lock(mutex_);
    for (std::string& json : v.eventJson) {
      RecordedEvent event{nextSeq_++, v.eventSource, v.eventSourceId, v.testEventCode,
                          std::move(json)};
      if (record_.is_open()) {
        std::string line = "{\"seq\":" + std::to_string(event.seq) + ",\"event_source\":";
        appendJsonString(line, event.eventSource);
        line += ",\"event_source_id\":";
        appendJsonString(line, event.eventSourceId);
        if (!event.testEventCode.empty()) {
          line += ",\"test_event_code\":";
          appendJsonString(line, event.testEventCode);
        }
        line += ",\"event\":" + event.json + "}\n";
        record_ << line;
      }
      if (options_.keepEvents > 0) {
        kept_.push_back(std::move(event));
        if (kept_.size() > options_.keepEvents) kept_.pop_front();
      }
    }
    if (record_.is_open()) record_.flush();
  }
  decision.response = tikTokReply(v.code, v.code == 0 ? "OK" : v.message);
  return decision;
}

Decision MockTikTok::handle(const http::Request& request) {
  if (request.path == kTrackPath) return handleTrack(request);
  Decision decision;
  if (request.path == "/mock/stats") {
    decision.response.body = statsJson();
  } else if (request.path == "/mock/events") {
    uint64_t since = 0;
    size_t limit = SIZE_MAX;
    std::string_view query = request.query;
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
      uint64_t n = 0;
      if (std::from_chars(value.data(), value.data() + value.size(), n).ec != std::errc()) continue;
      if (key == "since") since = n;
      if (key == "limit") limit = n;
    }
    auto list = events(since, limit);
    std::string body;
    {
      std::lock_guard lock(mutex_);
      body = "{\"accepted\":" + std::to_string(stats_.eventsAccepted) + ",\"events\":[";
    }
    for (size_t i = 0; i < list.size(); ++i) {
      if (i) body += ',';
      body += "{\"seq\":" + std::to_string(list[i].seq) + ",\"event_source\":";
      appendJsonString(body, list[i].eventSource);
      body += ",\"event_source_id\":";
      appendJsonString(body, list[i].eventSourceId);
      body += ",\"test_event_code\":";
      appendJsonString(body, list[i].testEventCode);
      body += ",\"event\":" + list[i].json + "}";
    }
    body += "]}";
    decision.response.body = std::move(body);
  } else if (request.path == "/mock/scenario" && request.method == "POST") {
    auto scenario = parseScenario(request.body);
    if (!scenario) {
      decision.response.status = 400;
      decision.response.body = "{\"error\":";
      appendJsonString(decision.response.body, scenario.error().message);
      decision.response.body += "}";
    } else {
      setScenario(std::move(*scenario));
      decision.response.body = "{\"ok\":true}";
    }
  } else if (request.path == "/mock/reset" && request.method == "POST") {
    reset();
    decision.response.body = "{\"ok\":true}";
  } else {
    decision.response.status = 404;
    decision.response.body = "{\"code\":40002,\"message\":\"Not found.\",\"data\":{}}";
  }
  return decision;
}

MockStats MockTikTok::stats() const {
  std::lock_guard lock(mutex_);
  MockStats s = stats_;
  const Phase* phase = currentPhase(&s.phaseIndex);
  s.phase = phase ? modeName(*phase) : "ok";
  return s;
}

std::string MockTikTok::statsJson() const {
  MockStats s = stats();
  std::string out = "{\"requests\":" + std::to_string(s.requests) +
                    ",\"events_accepted\":" + std::to_string(s.eventsAccepted) +
                    ",\"events_rejected\":" + std::to_string(s.eventsRejected) +
                    ",\"held\":" + std::to_string(s.held) + ",\"by_code\":{";
  bool first = true;
  for (auto [code, n] : s.byCode) {
    out += (first ? "\"" : ",\"") + std::to_string(code) + "\":" + std::to_string(n);
    first = false;
  }
  out += "},\"by_http_status\":{";
  first = true;
  for (auto [status, n] : s.byHttpStatus) {
    out += (first ? "\"" : ",\"") + std::to_string(status) + "\":" + std::to_string(n);
    first = false;
  }
  out += "},\"phase\":";
  appendJsonString(out, s.phase);
  out += ",\"phase_index\":" + std::to_string(s.phaseIndex) + "}";
  return out;
}

std::vector<RecordedEvent> MockTikTok::events(uint64_t sinceSeq, size_t limit) const {
  std::lock_guard lock(mutex_);
  // kept_ is in seq order (seqs only grow, reset() included), so the first one wanted is found by
  // bisection: a poller asking for what is new does not walk everything it has seen.
  auto first = std::upper_bound(kept_.begin(), kept_.end(), sinceSeq,
                                [](uint64_t seq, const RecordedEvent& e) { return seq < e.seq; });
  const size_t n = std::min(limit, static_cast<size_t>(kept_.end() - first));
  return std::vector<RecordedEvent>(first, first + static_cast<std::ptrdiff_t>(n));
}

void MockTikTok::reset() {
  std::lock_guard lock(mutex_);
  stats_ = MockStats{};
  kept_.clear();
}

}  // namespace sluice::mocktiktok
