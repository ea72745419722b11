// A TikTok Conversions destination compiled from its configuration: the enabled presets and the
// custom subscriptions, each a trigger and a compiled mapping, checked once when the configuration
// loads. match() says which subscriptions an event feeds; transform() builds the data[] item.
// Pure: no I/O. A Destination is immutable after create(); match() and transform() are thread-safe.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/result.h"
#include "mapping/fql.h"
#include "mapping/mapping.h"

namespace sluice::tiktok {

// Events that share a BatchKey may travel in one request (up to 1,000 of them).
struct BatchKey {
  std::string pixelCode;      // event_source_id
  std::string accessToken;    // secret: never log a BatchKey
  std::string eventSource;    // "web" or "crm"
  std::string testEventCode;  // may be empty
  bool operator==(const BatchKey&) const = default;
};

// One event ready for TikTok: its serialised data[] item and the request it may join.
struct TikTokEvent {
  std::string item;
  BatchKey key;
  std::string eventName;  // the TikTok event name, for metrics and alerts
};

class Destination {
 public:
  // Compiles every preset and subscription of `config`. On error the message starts with the
  // configuration position and names the entry, e.g.
  // `sluice.yaml:20:14: subscriptions[0].trigger: column 9: unexpected ')'`.
  static Result<Destination> create(const config::DestinationConfig& config);

  const std::string& name() const { return name_; }
  const config::TikTokSettings& settings() const { return settings_; }

  // Enabled presets first (in the documentation's order), then the custom subscriptions.
  size_t subscriptionCount() const { return subscriptions_.size(); }
  const std::string& subscriptionName(size_t index) const { return subscriptions_[index].name; }

  // The indexes of the subscriptions whose trigger `event` satisfies, in order.
  std::vector<size_t> match(simdjson::dom::element event) const;
  // The same into `out`, whose previous contents are replaced (its capacity is reused).
  void match(simdjson::dom::element event, std::vector<size_t>& out) const;

  // Maps `event` with subscription `index` into a data[] item. `nowMs` is the clock for events
  // without a usable timestamp or receivedAt. kInvalidArgument with a reason when the mapped
  // payload fails the action's validation.
  Result<TikTokEvent> transform(simdjson::dom::element event, size_t index, EpochMs nowMs) const;

  // A v1.3 request body holding `events` (all with the same BatchKey; at most 1,000).
  std::string buildBody(std::span<const TikTokEvent> events) const;

  Destination(Destination&&) noexcept;
  Destination& operator=(Destination&&) noexcept;
  ~Destination();

 private:
  struct Subscription {
    std::string name;
    std::optional<mapping::Trigger> trigger;  // none: always
    mapping::Mapping mapping;
    std::vector<int> slots;  // per top-level mapping key: its action field (-1: not a field)
  };
  void addSubscription(std::string name, std::optional<mapping::Trigger> trigger,
                       mapping::Mapping mapping);
  Destination() = default;

  std::string name_;
  config::TikTokSettings settings_;
  std::vector<Subscription> subscriptions_;
};

// Checks a destination's configuration as create() does, for the configuration loader.
Result<void> validateDestination(const config::DestinationConfig& config);

// The v1.3 body `{event_source, event_source_id, [partner_name], [test_event_code], data: [...]}`
// around already serialised data[] items. `partnerName` empty: none is sent (D1).
std::string buildRequestBody(const BatchKey& key, std::string_view partnerName,
                             std::span<const std::string_view> items);

// `file:line:column` of a configuration position ("" parts left out).
std::string positionPrefix(const config::Position& position);

}  // namespace sluice::tiktok
