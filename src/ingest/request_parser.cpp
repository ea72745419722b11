#include "ingest/request_parser.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <utility>

#include <simdjson.h>

#include "core/json_text.h"
#include "core/time.h"
#include "ingest/json_copy.h"

namespace sluice::ingest {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
constexpr size_t kNoPosition = std::string_view::npos;
using simdjson::dom::element_type;
using simdjson::dom::object;

// ---------------------------------------------------------------------------------------------
// Routes

struct RouteEntry {
  std::string_view path;
  Route route;
};

constexpr std::array<RouteEntry, 17> kRoutes = {{
    {"/v1/track", Route::kTrack},     {"/v1/t", Route::kTrack},
    {"/v1/page", Route::kPage},       {"/v1/p", Route::kPage},
    {"/v1/identify", Route::kIdentify}, {"/v1/i", Route::kIdentify},
    {"/v1/screen", Route::kScreen},   {"/v1/s", Route::kScreen},
    {"/v1/group", Route::kGroup},     {"/v1/g", Route::kGroup},
    {"/v1/alias", Route::kAlias},     {"/v1/a", Route::kAlias},
    {"/v1/batch", Route::kBatch},     {"/v1/b", Route::kBatch},
    {"/v1/import", Route::kBatch},    {"/beacon/v1/batch", Route::kBatch},
    {"/v1/webhook", Route::kWebhook},
}};

constexpr std::array<std::string_view, 6> kEventTypes = {"track",  "page",  "identify",
                                                         "screen", "group", "alias"};

std::string_view stripTrailingSlash(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return path;
}

// ---------------------------------------------------------------------------------------------
// Quarantine

// The event as sent, as compact JSON without its writeKey, cut to the quarantine bound.
std::string quarantinePayload(element event) {
  std::string out;
  if (event.type() == element_type::OBJECT) {
    out.push_back('{');
    bool first = true;
    for (auto field : object(event)) {
      if (field.key == "writeKey") continue;
      if (!first) out.push_back(',');
      first = false;
      appendJsonString(out, field.key);
      out.push_back(':');
      appendDomValue(out, field.value, 2, SIZE_MAX);
      if (out.size() > kMaxQuarantinePayloadBytes) break;
    }
    out.push_back('}');
  } else {
    appendDomValue(out, event, 1, SIZE_MAX);
  }
  if (out.size() > kMaxQuarantinePayloadBytes) return boundedText(out, kMaxQuarantinePayloadBytes);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validation helpers

struct Field {
  element value;
  bool present = false;  // present and not null
  bool seen = false;     // present, possibly null
  size_t position = 0;   // of the member used (the last one when a key is repeated)
};

bool isNumber(element value) {
  auto type = value.type();
  return type == element_type::INT64 || type == element_type::UINT64 ||
         type == element_type::DOUBLE;
}

double numberValue(element value) {
  switch (value.type()) {
    case element_type::INT64: return static_cast<double>(value.get_int64().value_unsafe());
    case element_type::UINT64: return static_cast<double>(value.get_uint64().value_unsafe());
    default: return value.get_double().value_unsafe();
  }
}

// Whether an identifier field holds a usable value; sets `error` when it has a wrong type.
bool hasIdentifier(const Field& field, std::string_view name, std::string& error) {
  if (!field.present) return false;
  if (field.value.type() == element_type::STRING) {
    return !field.value.get_string().value_unsafe().empty();
  }
  if (isNumber(field.value)) return true;
  error = "'" + std::string(name) + "' must be a string or a number";
  return false;
}

// A date given as an ISO-8601 string or as epoch seconds / milliseconds (by magnitude).
std::optional<EpochMs> parseDate(element value) {
  if (value.type() == element_type::STRING) return parseIsoTime(value.get_string().value_unsafe());
  if (isNumber(value)) {
    double number = numberValue(value);
    if (!std::isfinite(number) || std::fabs(number) > 1e15) return std::nullopt;
    if (std::fabs(number) < 1e11) number *= 1000;
    return static_cast<EpochMs>(std::llround(number));
  }
  return std::nullopt;
}

// The pre-serialised `"key":value` members of a batch-level object (context or integrations).
struct SharedObject {
  bool present = false;
  std::vector<std::pair<std::string_view, std::string>> members;
  bool hasIp = false;
};

struct Envelope {
  Field sentAt;
  SharedObject context;
  SharedObject integrations;
};

Result<SharedObject> shareObject(element value, std::string_view name) {
  SharedObject shared;
  if (value.type() == element_type::NULL_VALUE) return shared;
  if (value.type() != element_type::OBJECT) {
    return fail(ErrorCode::kInvalidArgument, "batch '" + std::string(name) + "' must be an object");
  }
  shared.present = true;
  for (auto field : object(value)) {
    std::string member;
    appendJsonString(member, field.key);
    member.push_back(':');
    if (!appendDomValue(member, field.value, 3, kMaxDepth)) {
      return fail(ErrorCode::kInvalidArgument,
                  "batch '" + std::string(name) + "' nested deeper than 64 levels");
    }
    if (field.key == "ip") shared.hasIp = true;
    shared.members.emplace_back(field.key, std::move(member));
  }
  return shared;
}

std::string quoted(std::string_view text) {
  return "'" + boundedText(text, 64) + "'";
}

// ---------------------------------------------------------------------------------------------
// One event

class EventProcessor {
 public:
  // `source` is the text of the request the events are elements of.
  EventProcessor(const ParseContext& context, const Envelope& envelope, const JsonSource& source)
      : context_(context),
        envelope_(envelope),
        source_(source),
        receivedAt_(formatIsoTime(context.receivedAtMs)) {}

  // Validates and enriches `event` into `out`. Returns an empty string, or the reason it was rejected.
  // `rawStart` is where the event starts in the source text (kNoPosition when unknown); unchanged
  // members are then copied from there instead of re-serialised from the DOM.
  std::string process(element event, size_t rawStart, ParsedEvent& out) {
    rawEnd_ = kNoPosition;
    if (event.type() != element_type::OBJECT) return "event is not a JSON object";
    object fields(event);
    collect(fields);

    std::string error;
    std::string_view type = routeEventType(context_.route);
    if (type.empty()) {
      if (!type_.present) return "missing 'type'";
      if (type_.value.type() != element_type::STRING) return "'type' must be a string";
      std::string_view given = type_.value.get_string().value_unsafe();
      auto known = std::find(kEventTypes.begin(), kEventTypes.end(), given);
      if (known == kEventTypes.end()) return "unknown type " + quoted(given);
      type = *known;
    }

    bool hasUser = hasIdentifier(userId_, "userId", error);
    if (!error.empty()) return error;
    bool hasAnonymous = hasIdentifier(anonymousId_, "anonymousId", error);
    if (!error.empty()) return error;
    if (type == "alias") {
      bool hasPrevious = hasIdentifier(previousId_, "previousId", error);
      if (!error.empty()) return error;
      if (!hasPrevious) return "alias needs 'previousId'";
      if (!hasUser) return "alias needs 'userId'";
    } else if (!hasUser && !hasAnonymous) {
      return "missing 'userId' or 'anonymousId'";
    }
    if (type == "group") {
      bool hasGroup = hasIdentifier(groupId_, "groupId", error);
      if (!error.empty()) return error;
      if (!hasGroup) return "group needs 'groupId'";
    }
    if (type == "track") {
      if (!event_.present || event_.value.type() != element_type::STRING ||
          event_.value.get_string().value_unsafe().empty()) {
        return "track needs 'event' (a non-empty string)";
      }
    }
    if (name_.present && name_.value.type() != element_type::STRING) {
      return "'name' must be a string";
    }
    for (auto [field, name] : {std::pair{&properties_, "properties"}, {&traits_, "traits"},
                               {&context_field_, "context"}, {&integrations_, "integrations"}}) {
      if (field->present && field->value.type() != element_type::OBJECT) {
        return "'" + std::string(name) + "' must be an object";
      }
    }

    std::string_view messageId;
    if (messageId_.present) {
      if (messageId_.value.type() != element_type::STRING) return "'messageId' must be a string";
      messageId = messageId_.value.get_string().value_unsafe();
      if (messageId.size() > kMaxMessageIdBytes) return "'messageId' longer than 1024 bytes";
    }

    std::optional<EpochMs> timestamp, originalTimestamp, sentAt;
    for (auto [field, name, target] :
         {std::tuple{&timestamp_, "timestamp", &timestamp},
          {&originalTimestamp_, "originalTimestamp", &originalTimestamp},
          {&sentAt_, "sentAt", &sentAt}}) {
      if (!field->present) continue;
      *target = parseDate(field->value);
      if (!*target) return "'" + std::string(name) + "' is not a valid date";
    }
    if (!sentAt_.present && envelope_.sentAt.present) {
      sentAt = parseDate(envelope_.sentAt.value);
      if (!sentAt) return "batch 'sentAt' is not a valid date";
    }

    // Segment's skew correction: timestamp = receivedAt - (sentAt - originalTimestamp).
    EpochMs eventTime = context_.receivedAtMs;
    std::optional<EpochMs> origin = originalTimestamp ? originalTimestamp : timestamp;
    const bool keepTimestamp = context_.route == Route::kWebhook && timestamp.has_value();
    if (keepTimestamp) {
      eventTime = *timestamp;
    } else if (origin && sentAt) {
      eventTime = context_.receivedAtMs - (*sentAt - *origin);
    } else if (origin) {
      eventTime = *origin;
    }

    out.type.assign(type);
    out.name.clear();
    if (type == "track") out.name.assign(event_.value.get_string().value_unsafe());
    if (messageId.empty()) {
      out.messageId = newMessageId(*context_.random);
    } else {
      out.messageId.assign(messageId);
    }
    out.timestampMs = eventTime;

    if (!write(fields, rawStart, type, keepTimestamp, out)) return "nested deeper than 64 levels";
    if (originalBytes_ > kMaxEventBytes) {
      return "event is " + std::to_string(originalBytes_) + " bytes; the limit is " +
             std::to_string(kMaxEventBytes);
    }
    return {};
  }

  // Just past the end of the last event processed in the source text, when it was read there to
  // its end; else kNoPosition.
  size_t rawEnd() const { return rawEnd_; }

 private:
  // Where the source text of an object is read, member by member, alongside the DOM's members.
  struct RawCursor {
    size_t pos = kNoPosition;  // kNoPosition: not read (any more), the DOM is written instead
    bool first = true;
  };

  // Steps `raw` to the member whose DOM key is `key`. When the source does not show that key, the
  // cursor stops and the rest of the object is written from the DOM.
  void nextRawMember(RawCursor& raw, std::string_view key) const {
    if (raw.pos == kNoPosition) return;
    std::string_view rawKey;
    const auto step = source_.nextMember(raw.pos, raw.first, rawKey);
    raw.first = false;
    // A key written with escapes cannot be compared as is; its position in the member order holds.
    if (step != JsonSource::Step::kItem ||
        (rawKey != key && rawKey.find('\\') == std::string_view::npos)) {
      raw.pos = kNoPosition;
    }
  }

  // Appends the current member's value (at `depth`) in compact form: copied from the source when
  // the cursor is there, else (or for forms the copier leaves to the DOM) from `value`. False when
  // it nests deeper than kMaxDepth.
  bool appendValue(std::string& out, element value, size_t depth, RawCursor& raw) const {
    if (raw.pos != kNoPosition) {
      const size_t mark = out.size();
      switch (source_.copyValue(out, raw.pos, depth, kMaxDepth)) {
        case JsonSource::Copy::kOk: return true;
        case JsonSource::Copy::kTooDeep: return false;
        case JsonSource::Copy::kFallback:
          out.resize(mark);
          if (!source_.skipValue(raw.pos)) raw.pos = kNoPosition;
          break;
      }
    }
    return appendDomValue(out, value, depth, kMaxDepth);
  }

  void collect(object fields) {
    for (Field* field : {&type_, &userId_, &anonymousId_, &previousId_, &groupId_, &event_, &name_,
                         &messageId_, &timestamp_, &originalTimestamp_, &sentAt_, &context_field_,
                         &integrations_, &properties_, &traits_}) {
      *field = Field{};
    }
    size_t position = 0;
    for (auto member : fields) {
      Field* field = fieldFor(member.key);
      ++position;
      if (field == nullptr) continue;
      field->value = member.value;
      field->seen = true;
      field->present = member.value.type() != element_type::NULL_VALUE;
      field->position = position;
    }
  }

  Field* fieldFor(std::string_view key) {
    switch (key.size()) {
      case 4:
        if (key == "type") return &type_;
        if (key == "name") return &name_;
        return nullptr;
      case 5: return key == "event" ? &event_ : nullptr;
      case 6:
        if (key == "userId") return &userId_;
        if (key == "sentAt") return &sentAt_;
        if (key == "traits") return &traits_;
        return nullptr;
      case 7:
        if (key == "groupId") return &groupId_;
        if (key == "context") return &context_field_;
        return nullptr;
      case 9:
        if (key == "messageId") return &messageId_;
        if (key == "timestamp") return &timestamp_;
        return nullptr;
      case 10:
        if (key == "previousId") return &previousId_;
        if (key == "properties") return &properties_;
        return nullptr;
      case 11: return key == "anonymousId" ? &anonymousId_ : nullptr;
      case 12: return key == "integrations" ? &integrations_ : nullptr;
      case 17: return key == "originalTimestamp" ? &originalTimestamp_ : nullptr;
      default: return nullptr;
    }
  }

  std::string timestampText(EpochMs ms) const {
    return ms == context_.receivedAtMs ? receivedAt_ : formatIsoTime(ms);
  }

  // Starts a member of the output object; returns where its bytes start (after any comma).
  size_t beginMember(std::string& out, std::string_view key) {
    if (members_++ > 0) out.push_back(',');
    size_t start = out.size();
    appendJsonString(out, key);
    out.push_back(':');
    return start;
  }

  // Adds the compact size of an original member that is not copied as is. Its compact value is
  // left in countedValue() until the next call.
  bool countOriginal(std::string_view key, element value, RawCursor& raw) {
    scratch_.clear();
    appendJsonString(scratch_, key);
    scratch_.push_back(':');
    countedValueStart_ = scratch_.size();
    if (!appendValue(scratch_, value, 2, raw)) return false;
    originalBytes_ += scratch_.size();
    return true;
  }

  std::string_view countedValue() const {
    return std::string_view(scratch_).substr(countedValueStart_);
  }

  // Writes context or integrations: the event's members, then the batch's members the event lacks,
  // then (for context) the client's address when neither has an `ip`. `compact` is the event's
  // object as compact JSON (from countOriginal) when `field` is present.
  void writeMerged(std::string& out, std::string_view key, const Field& field,
                   const SharedObject& shared, bool addIp, std::string_view compact) {
    beginMember(out, key);
    out.push_back('{');
    size_t count = 0;
    bool hasIp = shared.hasIp;
    if (field.present) {
      for (auto member : object(field.value)) {
        ++count;
        if (member.key == "ip") hasIp = true;
      }
      if (count > 0) out.append(compact.substr(1, compact.size() - 2));  // the members
    }
    for (const auto& [sharedKey, text] : shared.members) {
      if (field.present) {
        element ignored;
        if (object(field.value).at_key(sharedKey).get(ignored) == simdjson::SUCCESS) continue;
      }
      if (count++ > 0) out.push_back(',');
      out.append(text);
    }
    if (addIp && !hasIp && !context_.clientIp.empty()) {
      if (count++ > 0) out.push_back(',');
      out.append("\"ip\":");
      appendJsonString(out, context_.clientIp);
    }
    out.push_back('}');
  }

  bool write(object fields, size_t rawStart, std::string_view type, bool keepTimestamp,
             ParsedEvent& event) {
    std::string& out = event.json;
    out.clear();
    out.reserve(1024 + 256);
    members_ = 0;
    size_t originalMembers = 0;
    originalBytes_ = 2;
    out.push_back('{');
    const bool mergeContext =
        context_field_.present || envelope_.context.present || !context_.clientIp.empty();
    const bool mergeIntegrations = integrations_.present || envelope_.integrations.present;
    RawCursor raw{rawStart};
    for (auto member : fields) {
      ++originalMembers;
      std::string_view key = member.key;
      nextRawMember(raw, key);
      Field* known = fieldFor(key);
      if (known != nullptr && known->position != originalMembers) {
        // A repeated known key: only the last occurrence (the one validated) is kept.
        if (!countOriginal(key, member.value, raw)) return false;
        continue;
      }
      if (known == nullptr || known == &userId_ || known == &anonymousId_ ||
          known == &previousId_ || known == &groupId_ || known == &event_ || known == &name_ ||
          known == &properties_ || known == &traits_ || known == &originalTimestamp_ ||
          known == &sentAt_ || (known == &timestamp_ && keepTimestamp) ||
          (known == &messageId_ && messageId_.present &&
           !messageId_.value.get_string().value_unsafe().empty())) {
        if (key == "writeKey" || key == "receivedAt") {
          if (!countOriginal(key, member.value, raw)) return false;
          continue;
        }
        size_t start = beginMember(out, key);
        if (!appendValue(out, member.value, 2, raw)) return false;
        originalBytes_ += out.size() - start;
        continue;
      }
      if (!countOriginal(key, member.value, raw)) return false;
      if (known == &type_) {
        beginMember(out, "type");
        appendJsonString(out, type);
      } else if (known == &messageId_) {
        beginMember(out, "messageId");
        appendJsonString(out, event.messageId);
      } else if (known == &timestamp_) {
        beginMember(out, "timestamp");
        appendJsonString(out, timestampText(event.timestampMs));
      } else if (known == &context_field_) {
        if (mergeContext) {
          writeMerged(out, "context", context_field_, envelope_.context, true, countedValue());
        } else {
          beginMember(out, key);
          out.append("null");
        }
      } else if (known == &integrations_) {
        if (mergeIntegrations) {
          writeMerged(out, "integrations", integrations_, envelope_.integrations, false,
                      countedValue());
        } else {
          beginMember(out, key);
          out.append("null");
        }
      }
    }
    if (originalMembers > 1) originalBytes_ += originalMembers - 1;
    if (raw.pos != kNoPosition) {
      std::string_view ignored;
      if (source_.nextMember(raw.pos, raw.first, ignored) == JsonSource::Step::kEnd) {
        rawEnd_ = raw.pos;
      }
    }

    if (!type_.seen) {
      beginMember(out, "type");
      appendJsonString(out, type);
    }
    if (!messageId_.seen) {
      beginMember(out, "messageId");
      appendJsonString(out, event.messageId);
    }
    if (timestamp_.present && !originalTimestamp_.seen) {
      beginMember(out, "originalTimestamp");
      appendDomValue(out, timestamp_.value, 2, kMaxDepth);
    }
    if (!timestamp_.seen) {
      beginMember(out, "timestamp");
      appendJsonString(out, timestampText(event.timestampMs));
    }
    if (!sentAt_.seen && envelope_.sentAt.present) {
      beginMember(out, "sentAt");
      appendDomValue(out, envelope_.sentAt.value, 2, kMaxDepth);
    }
    beginMember(out, "receivedAt");
    appendJsonString(out, receivedAt_);
    if (!context_field_.seen && mergeContext) {
      writeMerged(out, "context", context_field_, envelope_.context, true, {});
    }
    if (!integrations_.seen && mergeIntegrations) {
      writeMerged(out, "integrations", integrations_, envelope_.integrations, false, {});
    }
    out.push_back('}');
    return true;
  }

  const ParseContext& context_;
  const Envelope& envelope_;
  const JsonSource& source_;
  size_t rawEnd_ = kNoPosition;
  Field type_, userId_, anonymousId_, previousId_, groupId_, event_, name_, messageId_, timestamp_,
      originalTimestamp_, sentAt_, context_field_, integrations_, properties_, traits_;
  size_t members_ = 0;
  size_t originalBytes_ = 0;
  std::string scratch_;
  size_t countedValueStart_ = 0;
  const std::string receivedAt_;  // formatted once per request
};

// ---------------------------------------------------------------------------------------------
// The request

simdjson::dom::parser& threadParser() {
  thread_local simdjson::dom::parser parser = [] {
    simdjson::dom::parser created;
    // The request depth allows for the batch envelope (object, array) around events; simdjson
    // accepts documents up to one level less than its bound.
    // On failure the parser allocates on first use instead (with the default depth bound).
    if (created.allocate(kMaxRequestBytes + 1024, kMaxDepth + 3) != simdjson::SUCCESS) {
      return simdjson::dom::parser{};
    }
    return created;
  }();
  return parser;
}

Error parseError(simdjson::error_code code) {
  switch (code) {
    case simdjson::DEPTH_ERROR:
      return Error{ErrorCode::kInvalidArgument, "JSON nested deeper than 64 levels"};
    case simdjson::UTF8_ERROR:
      return Error{ErrorCode::kInvalidArgument, "body is not valid UTF-8"};
    case simdjson::EMPTY:
      return Error{ErrorCode::kInvalidArgument, "empty body"};
    default:
      return Error{ErrorCode::kInvalidArgument,
                   std::string("invalid JSON: ") + simdjson::error_message(code)};
  }
}

void addEvent(EventProcessor& processor, element event, size_t rawStart, size_t index,
              ParsedRequest& request) {
  request.events.emplace_back();
  std::string reason = processor.process(event, rawStart, request.events.back());
  if (reason.empty()) return;
  request.events.pop_back();
  request.rejected.push_back(RejectedEvent{index, std::move(reason), quarantinePayload(event)});
}

// Where the batch array starts in the envelope's source text: the value of its `member`-th member
// (counted from 1), or kNoPosition when the source does not read as expected.
size_t batchStart(const JsonSource& source, size_t member) {
  size_t pos = 0;
  std::string_view key;
  for (size_t k = 1; k <= member; ++k) {
    if (source.nextMember(pos, k == 1, key) != JsonSource::Step::kItem) return kNoPosition;
    if (k < member && !source.skipValue(pos)) return kNoPosition;
  }
  return key == "batch" ? pos : kNoPosition;
}

}  // namespace

std::optional<Route> routeForPath(std::string_view path) {
  path = stripTrailingSlash(path);
  for (const auto& entry : kRoutes) {
    if (entry.path == path) return entry.route;
  }
  return std::nullopt;
}

std::string_view routeEventType(Route route) {
  switch (route) {
    case Route::kTrack: return "track";
    case Route::kPage: return "page";
    case Route::kIdentify: return "identify";
    case Route::kScreen: return "screen";
    case Route::kGroup: return "group";
    case Route::kAlias: return "alias";
    case Route::kBatch:
    case Route::kWebhook: return {};
  }
  return {};
}

bool isBeaconPath(std::string_view path) {
  return stripTrailingSlash(path) == "/beacon/v1/batch";
}

Result<ParsedRequest> parseRequest(std::string_view body, const ParseContext& context) {
  if (body.size() > kMaxRequestBytes) {
    return fail(ErrorCode::kResourceExhausted, "request body is " + std::to_string(body.size()) +
                                                   " bytes; the limit is " +
                                                   std::to_string(kMaxRequestBytes));
  }
  element root;
  auto code = threadParser().parse(body.data(), body.size()).get(root);
  if (code != simdjson::SUCCESS) return fail(parseError(code));

  ParsedRequest request;
  Envelope envelope;
  if (context.route != Route::kBatch) {
    if (root.type() != element_type::OBJECT) {
      return fail(ErrorCode::kInvalidArgument, "body must be a JSON object");
    }
    std::string_view writeKey;
    if (object(root).at_key("writeKey").get(writeKey) == simdjson::SUCCESS) {
      request.writeKey.assign(writeKey);
    }
    request.total = 1;
    const JsonSource source(body);
    EventProcessor processor(context, envelope, source);
    addEvent(processor, root, 0, 0, request);
    return request;
  }

  if (root.type() != element_type::OBJECT) {
    return fail(ErrorCode::kInvalidArgument, "body must be a JSON object with a 'batch' array");
  }
  element batch;
  bool hasBatch = false;
  size_t batchMember = 0;  // the position of the (last) "batch" member among the envelope's
  size_t members = 0;
  for (auto member : object(root)) {
    ++members;
    if (member.key == "batch") {
      batch = member.value;
      hasBatch = true;
      batchMember = members;
    } else if (member.key == "writeKey") {
      if (member.value.type() == element_type::STRING) {
        request.writeKey.assign(member.value.get_string().value_unsafe());
      }
    } else if (member.key == "sentAt") {
      envelope.sentAt.value = member.value;
      envelope.sentAt.present = member.value.type() != element_type::NULL_VALUE;
    } else if (member.key == "context" || member.key == "integrations") {
      auto shared = shareObject(member.value, member.key);
      if (!shared) return fail(shared.error());
      (member.key == "context" ? envelope.context : envelope.integrations) = std::move(*shared);
    }
  }
  if (!hasBatch) return fail(ErrorCode::kInvalidArgument, "missing 'batch' array");
  if (batch.type() != element_type::ARRAY) {
    return fail(ErrorCode::kInvalidArgument, "'batch' must be an array");
  }
  array events(batch);
  const size_t count = events.size();
  if (count > kMaxBatchEvents) {
    return fail(ErrorCode::kResourceExhausted, "batch has " + std::to_string(count) +
                                                   " events; the limit is " +
                                                   std::to_string(kMaxBatchEvents));
  }
  request.total = count;
  request.events.reserve(count);
  const JsonSource source(body);
  size_t raw = batchStart(source, batchMember);
  EventProcessor processor(context, envelope, source);
  size_t index = 0;
  for (element event : events) {
    size_t eventStart = kNoPosition;
    if (raw != kNoPosition && source.nextElement(raw, index == 0) == JsonSource::Step::kItem) {
      eventStart = raw;
    }
    addEvent(processor, event, eventStart, index++, request);
    raw = processor.rawEnd();
    if (raw == kNoPosition && eventStart != kNoPosition) {
      raw = eventStart;
      if (!source.skipValue(raw)) raw = kNoPosition;
    }
  }
  return request;
}

Result<std::string> decodeBody(std::string_view body, std::string_view contentEncoding,
                               size_t maxBytes) {
  std::string encoding;
  for (char c : contentEncoding) {
    if (c != ' ' && c != '\t') encoding.push_back(static_cast<char>(std::tolower(c)));
  }
  if (encoding.empty() || encoding == "identity") {
    if (body.size() > maxBytes) {
      return fail(ErrorCode::kResourceExhausted, "request body is " + std::to_string(body.size()) +
                                                     " bytes; the limit is " +
                                                     std::to_string(maxBytes));
    }
    return std::string(body);
  }
  if (encoding != "gzip" && encoding != "x-gzip" && encoding != "deflate") {
    return fail(ErrorCode::kNotFound, "unsupported Content-Encoding (use gzip or none)");
  }

  struct Inflater {
    z_stream stream{};
    bool ready = false;
    ~Inflater() {
      if (ready) inflateEnd(&stream);
    }
  } inflater;
  // 15 window bits, +32: accept both gzip and zlib headers.
  if (inflateInit2(&inflater.stream, 15 + 32) != Z_OK) {
    return fail(ErrorCode::kInternal, "cannot initialise zlib");
  }
  inflater.ready = true;
  std::string out;
  out.resize(std::min(maxBytes + 1, body.size() * 4 + 4096));
  inflater.stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  inflater.stream.avail_in = static_cast<uInt>(body.size());
  size_t produced = 0;
  while (true) {
    if (produced == out.size()) {
      if (out.size() > maxBytes) break;
      out.resize(std::min(maxBytes + 1, out.size() * 2));
    }
    inflater.stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    inflater.stream.avail_out = static_cast<uInt>(out.size() - produced);
    int status = inflate(&inflater.stream, Z_NO_FLUSH);
    produced = out.size() - inflater.stream.avail_out;
    if (status == Z_STREAM_END) {
      if (inflater.stream.avail_in != 0) {
        return fail(ErrorCode::kInvalidArgument, "invalid gzip body: data after the stream");
      }
      out.resize(produced);
      if (produced > maxBytes) break;
      return out;
    }
    if (status == Z_BUF_ERROR && inflater.stream.avail_out != 0) {
      return fail(ErrorCode::kInvalidArgument, "invalid gzip body: truncated");
    }
    if (status != Z_OK && status != Z_BUF_ERROR) {
      return fail(ErrorCode::kInvalidArgument, "invalid gzip body");
    }
  }
  return fail(ErrorCode::kResourceExhausted,
              "request body larger than " + std::to_string(maxBytes) + " bytes after decompression");
}

std::string newMessageId(Random& random) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t high = random.next();
  uint64_t low = random.next();
  high = (high & ~uint64_t{0xF000}) | uint64_t{0x4000};                         // version 4
  low = (low & 0x3FFF'FFFF'FFFF'FFFFull) | 0x8000'0000'0000'0000ull;              // RFC 4122 variant
  std::string id = "sluice-";
  id.reserve(7 + 36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id.push_back('-');
    uint64_t word = i < 16 ? high : low;
    int shift = 60 - 4 * (i % 16);
    id.push_back(kHex[(word >> shift) & 0xF]);
  }
  return id;
}

std::string boundedText(std::string_view text, size_t maxBytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(std::min(text.size(), maxBytes));
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t codePoint = 0;
    if (c < 0x80) {
      length = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
      codePoint = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      codePoint = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      codePoint = c & 0x07;
    }
    bool valid = length > 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) valid = false;
      codePoint = (codePoint << 6) | (next & 0x3F);
    }
    if (valid && length == 3 && (codePoint < 0x800 || (codePoint >= 0xD800 && codePoint <= 0xDFFF))) {
      valid = false;
    }
    if (valid && length == 4 && (codePoint < 0x10000 || codePoint > 0x10FFFF)) valid = false;
    std::string_view piece = valid ? text.substr(i, length) : kReplacement;
    if (out.size() + piece.size() > maxBytes) break;
    out.append(piece);
    i += valid ? length : 1;
  }
  return out;
}

}  // namespace sluice::ingest
