#include "tiktok/destination.h"

#include <algorithm>
#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "tiktok/action.h"
#include "tiktok/json_writer.h"
#include "tiktok/pii.h"
#include "tiktok/presets.h"

namespace sluice::tiktok {
namespace {

constexpr size_t kMaxSubscriptions = 50;

Error configError(const config::Position& position, const std::string& what,
                  const std::string& problem) {
  return Error{ErrorCode::kInvalidArgument, positionPrefix(position) + what + ": " + problem};
}

}  // namespace

std::string positionPrefix(const config::Position& position) {
  std::string out = position.file;
  if (position.line > 0) {
    out += (out.empty() ? "" : ":") + std::to_string(position.line);
    if (position.column > 0) out += ":" + std::to_string(position.column);
  }
  if (!out.empty()) out += ": ";
  return out;
}

Destination::Destination(Destination&&) noexcept = default;
Destination& Destination::operator=(Destination&&) noexcept = default;
Destination::~Destination() = default;

Result<Destination> Destination::create(const config::DestinationConfig& config) {
  Destination destination;
  destination.name_ = config.name;
  destination.settings_ = config.settings;
  const config::Position& at = config.position;
  if (!config.type.empty() && config.type != "tiktok-conversions") {
    return fail(configError(at, "type", "unknown destination type '" + config.type + "'"));
  }
  if (config.settings.accessToken.empty()) {
    return fail(configError(at, "settings.access_token", "required"));
  }
  if (config.settings.pixelCode.empty()) {
    return fail(configError(at, "settings.pixel_code", "required"));
  }
  std::string& region = destination.settings_.phoneDefaultRegion;
  for (char& c : region) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  if (!region.empty() && !isKnownPhoneRegion(region)) {
    return fail(
        configError(at, "settings.phone_default_region",
                    "'" + config.settings.phoneDefaultRegion +
                        "' is not a region libphonenumber knows (use ISO 3166 codes, e.g. US)"));
  }

  // The subscriptions' mappings share one table of event paths (they read mostly the same ones).
  mapping::PathTable paths;

  // Presets: "all" (every documented preset), "none", or names.
  std::vector<bool> enabled(documentedPresets().size(), false);
  for (size_t i = 0; i < config.presets.size(); ++i) {
    const std::string& name = config.presets[i];
    if (name == "all") {
      enabled.assign(enabled.size(), true);
      continue;
    }
    if (name == "none") continue;
    const Preset* preset = findPreset(name);
    if (preset == nullptr) {
      std::string known;
      for (const Preset& p : documentedPresets())
        known += (known.empty() ? "" : ", ") + std::string(p.name);
      return fail(configError(at, "presets[" + std::to_string(i) + "]",
                              "unknown preset '" + name + "' (known: " + known + ", all, none)"));
    }
    enabled[static_cast<size_t>(preset - documentedPresets().data())] = true;
  }
  for (size_t i = 0; i < enabled.size(); ++i) {
    if (!enabled[i]) continue;
    const Preset& preset = documentedPresets()[i];
    auto trigger = mapping::Trigger::parse(preset.trigger);
    auto compiled = mapping::Mapping::compile(presetMapping(preset), paths);
    if (!trigger || !compiled) {
      return fail(configError(at, "presets",
                              "internal error compiling preset " + std::string(preset.name)));
    }
    destination.addSubscription(std::string(preset.name), std::move(*trigger),
                                std::move(*compiled));
  }

  for (size_t i = 0; i < config.subscriptions.size(); ++i) {
    const config::SubscriptionConfig& sub = config.subscriptions[i];
    const std::string entry = "subscriptions[" + std::to_string(i) + "]";
    if (sub.action != "reportWebEvent") {
      return fail(configError(sub.position, entry + ".action",
                              "unknown action '" + sub.action + "' (only reportWebEvent)"));
    }
    std::optional<mapping::Trigger> trigger;
    if (!sub.trigger.empty()) {
      auto parsed = mapping::Trigger::parse(sub.trigger);
      if (!parsed)
        return fail(configError(sub.triggerPosition, entry + ".trigger", parsed.error().message));
      trigger = std::move(*parsed);
    }
    boost::system::error_code ec;
    boost::json::value spec = boost::json::parse(sub.mappingJson, ec);
    if (ec || !spec.is_object()) {
      return fail(configError(sub.mappingPosition, entry + ".mapping", "must be a JSON object"));
    }
    for (const auto& kv : spec.get_object()) {
      std::string_view key = kv.key();
      if (!isActionField(key) && key.rfind("__segment", 0) != 0) {
        return fail(configError(sub.mappingPosition, entry + ".mapping",
                                "'" + std::string(key) + "' is not a field of reportWebEvent"));
      }
    }
    boost::json::object mappingSpec =
        sub.mergeDefaults ? mergeDefaults(spec.get_object()) : std::move(spec.as_object());
    auto compiled = mapping::Mapping::compile(mappingSpec, paths);
    if (!compiled)
      return fail(configError(sub.mappingPosition, entry + ".mapping", compiled.error().message));
    destination.addSubscription(sub.name.empty() ? entry : sub.name, std::move(trigger),
                                std::move(*compiled));
  }
  if (destination.subscriptions_.size() > kMaxSubscriptions) {
    return fail(configError(at, "subscriptions",
                            "at most 50 presets and subscriptions per destination, got " +
                                std::to_string(destination.subscriptions_.size())));
  }
  return destination;
}

void Destination::addSubscription(std::string name, std::optional<mapping::Trigger> trigger,
                                  mapping::Mapping mapping) {
  std::vector<int> slots;
  for (size_t i = 0; i < mapping.fieldCount(); ++i) {
    slots.push_back(actionFieldIndex(mapping.fieldKey(i)));
  }
  subscriptions_.push_back(
      Subscription{std::move(name), std::move(trigger), std::move(mapping), std::move(slots)});
}

void Destination::match(simdjson::dom::element event, std::vector<size_t>& out) const {
  out.clear();
  const mapping::TriggerEvent fields(event);  // the fields triggers read, found once
  for (size_t i = 0; i < subscriptions_.size(); ++i) {
    const auto& trigger = subscriptions_[i].trigger;
    if (!trigger || trigger->matches(fields)) out.push_back(i);
  }
}

std::vector<size_t> Destination::match(simdjson::dom::element event) const {
  std::vector<size_t> out;
  match(event, out);
  return out;
}

Result<TikTokEvent> Destination::transform(simdjson::dom::element event, size_t index,
                                           EpochMs nowMs) const {
  if (index >= subscriptions_.size()) return fail(ErrorCode::kInternal, "no such subscription");
  // The mapped payload goes straight into one slot per action field (no intermediate object);
  // the event's own values stay views of `event`.
  struct Sink final : mapping::Mapping::FieldSink {
    Payload payload;
    const std::vector<int>* slots = nullptr;
    void field(size_t i, simdjson::dom::element value) override {
      int slot = (*slots)[i];
      if (slot >= 0) {
        payload.fields[static_cast<size_t>(slot)].emplace<simdjson::dom::element>(value);
      }
    }
    void field(size_t i, boost::json::value& value) override {
      int slot = (*slots)[i];
      if (slot >= 0) {
        payload.fields[static_cast<size_t>(slot)].emplace<boost::json::value>(std::move(value));
      }
    }
    void field(size_t i, const mapping::ViewObjects& objects) override {
      int slot = (*slots)[i];
      if (slot >= 0) {
        payload.fields[static_cast<size_t>(slot)].emplace<mapping::ViewObjects>(objects);
      }
    }
  };
  unsigned char buffer[16384];
  boost::json::monotonic_resource resource(buffer, sizeof buffer);
  const Subscription& subscription = subscriptions_[index];
  Sink sink;
  sink.slots = &subscription.slots;
  sink.payload.storage = boost::json::storage_ptr(&resource);
  subscription.mapping.applyFields(event, sink.payload.storage, sink);
  Payload& payload = sink.payload;
  ItemContext context;
  context.phoneDefaultRegion = settings_.phoneDefaultRegion;
  context.fallbackTimeMs = receivedTimeMs(event, nowMs);
  auto built = buildItem(payload, context);
  if (!built) return fail(built.error());
  TikTokEvent result;
  result.item = std::move(built->json);
  result.eventName = std::move(built->eventName);
  result.key.pixelCode = settings_.pixelCode;
  result.key.accessToken = settings_.accessToken;
  result.key.eventSource = std::move(built->eventSource);
  result.key.testEventCode =
      built->testEventCode.empty() ? settings_.testEventCode : std::move(built->testEventCode);
  return result;
}

std::string Destination::buildBody(std::span<const TikTokEvent> events) const {
  // The item views of a small batch (the common single event) stay on the stack.
  constexpr size_t kInline = 16;
  std::array<std::string_view, kInline> inlineItems;
  std::vector<std::string_view> heapItems;
  std::span<std::string_view> items(inlineItems.data(), std::min(events.size(), kInline));
  if (events.size() > kInline) {
    heapItems.resize(events.size());
    items = heapItems;
  }
  for (size_t i = 0; i < events.size(); ++i) items[i] = events[i].item;
  static const BatchKey kEmpty;
  return buildRequestBody(events.empty() ? kEmpty : events.front().key, settings_.partnerName,
                          items);
}

std::string buildRequestBody(const BatchKey& key, std::string_view partnerName,
                             std::span<const std::string_view> items) {
  size_t size = 128;
  for (auto item : items) size += item.size() + 1;
  std::string out;
  out.reserve(size);
  out += "{\"event_source\":";
  appendJsonString(out, key.eventSource.empty() ? std::string_view("web") : key.eventSource);
  out += ",\"event_source_id\":";
  appendJsonString(out, key.pixelCode);
  if (!partnerName.empty()) {
    out += ",\"partner_name\":";
    appendJsonString(out, partnerName);
  }
  if (!key.testEventCode.empty()) {
    out += ",\"test_event_code\":";
    appendJsonString(out, key.testEventCode);
  }
  out += ",\"data\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += items[i];
  }
  out += "]}";
  return out;
}

Result<void> validateDestination(const config::DestinationConfig& config) {
  auto destination = Destination::create(config);
  if (!destination) return fail(destination.error());
  return ok();
}

}  // namespace sluice::tiktok
