// The action "Report Web Event" of the TikTok Conversions destination: its fields (types, choices,
// required), its default field mappings, and the step that turns a mapped payload into one item of
// the request body's `data[]`, with Segment's type coercion and validation, PII hashing and the
// deliberate differences D4-D8 and D10 (see README.md). Pure, no I/O.
#pragma once

#include <simdjson.h>

#include <array>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/clock.h"
#include "core/result.h"
#include "mapping/mapping.h"

namespace sluice::tiktok {

// The action's default field mappings (Segment's `field_defaults`), as mapping-kit JSON.
const boost::json::object& fieldDefaults();

// `mapping` with every top-level field it leaves out filled from fieldDefaults() (what Segment's
// UI gives a user who adds a mapping: "merge defaults").
boost::json::object mergeDefaults(const boost::json::object& mapping);

// Whether `key` names a field of the action.
bool isActionField(std::string_view key);

// What the item builder needs beside the payload.
struct ItemContext {
  std::string_view phoneDefaultRegion;  // D10; empty: Segment's behaviour
  EpochMs fallbackTimeMs = 0;           // D7: used when the timestamp is missing or unparsable
};

// One built `data[]` item and the parts of the request envelope it needs.
struct BuiltItem {
  std::string json;           // the serialised data[] item
  std::string eventSource;    // "web" or "crm"
  std::string testEventCode;  // from the payload's test_event_code field; may be empty
  std::string eventName;      // the TikTok event ("CompletePayment", ...), for metrics
};

// The number of fields of the action.
inline constexpr size_t kActionFieldCount = 36;

// The position of field `key` among the action's fields (Segment's order), or -1 when `key` is not
// a field of the action (Segment removes such keys from the payload).
int actionFieldIndex(std::string_view key);

// One action field's mapped value: std::monostate when the mapping left the field undefined; a
// view of the event's own value (what Mapping::FieldSink receives as an element), read in place
// and copied only if validation must change it; or a Boost.JSON value the mapping computed.
// Objects the mapping built only from event values (see Mapping::applyFields()) are a fourth
// kind, mapping::ViewObjects, likewise read in place unless validation must change them.
using Slot =
    std::variant<std::monostate, simdjson::dom::element, boost::json::value, mapping::ViewObjects>;

// The output of the mapping, one slot per action field (indexed by actionFieldIndex()). Views
// must stay valid (their parser's document alive), and Boost.JSON values and the arrays of
// ViewObjects allocated, until the item is built; `storage` is where validation copies the views
// it changes, and must outlive the payload too (Destination uses a monotonic resource per event
// for all of them).
struct Payload {
  std::array<Slot, kActionFieldCount> fields;
  boost::json::storage_ptr storage;
};

// Coerces and validates `payload` in place as Segment's action does, then writes the data[] item.
// A view keeps being read in place when it already has the field's type (a string for a string
// field, also as the one item of a `multiple` string field; a number; a boolean), and objects of
// views when each of their kept members does; anything else is copied into `payload.storage`
// (mapping::copyEventValue, copyEventObjects) and coerced there.
// On a validation failure returns kInvalidArgument with Segment's wording, e.g. `Price must be a
// number but it was a string.`; never a partial item.
Result<BuiltItem> buildItem(Payload& payload, const ItemContext& context);

// The Segment event's `receivedAt` (or, failing that, `nowMs`), for ItemContext::fallbackTimeMs.
EpochMs receivedTimeMs(simdjson::dom::element event, EpochMs nowMs);

}  // namespace sluice::tiktok
