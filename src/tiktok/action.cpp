#include "tiktok/action.h"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "core/time.h"
#include "mapping/js_number.h"
#include "mapping/keys.h"
#include "mapping/mapping.h"
#include "tiktok/json_writer.h"
#include "tiktok/pii.h"

namespace sluice::tiktok {
namespace {

namespace json = boost::json;
// Literals appended as string_views: their length is known here, where `+= "..."` would call
// strlen inside the library's append() for each one.
using namespace std::string_view_literals;

enum class FieldType { kString, kNumber, kInteger, kBoolean, kObject };

// One field of the action's schema (Segment's field definition, as far as validation needs it).
struct Field {
  std::string_view key;
  std::string_view label;
  FieldType type = FieldType::kString;
  bool multiple = false;
  std::span<const std::string_view> choices = {};
  std::span<const Field> properties = {};
};

using Sv = std::string_view;
using T = FieldType;

constexpr Sv kEventSources[] = {"web", "crm"};
constexpr Sv kSpecTypes[] = {"travel_fields", "vehicle_fields"};
constexpr Sv kContentTypes[] = {"product", "product_group"};
constexpr Sv kDeliveryCategories[] = {"in_store", "curbside", "home_delivery"};
constexpr Sv kTravelClasses[] = {"eco", "prem", "bus", "first"};
constexpr Sv kVehicleStates[] = {"New", "Used", "CPO"};
constexpr Sv kMileageUnits[] = {"MI", "KM"};
constexpr Sv kTransmissions[] = {"Automatic", "Manual", "Other"};
constexpr Sv kBodyStyles[] = {"Convertible", "Coupe", "Hatchback", "Minivan",   "Truck", "SUV",
                              "Sedan",       "Van",   "Wagon",     "Crossover", "Other"};
constexpr Sv kFuelTypes[] = {"Diesel", "Electric", "Flex", "Gasoline", "Hybrid", "Other"};
constexpr Sv kDrivetrains[] = {"AWD", "FOUR_WD", "FWD", "RWD", "TWO_WD", "Other"};
constexpr Sv kConditions[] = {"Excellent", "Good", "Fair", "Poor", "Other"};

constexpr Field kAddressFields[] = {
    {"city", "City"}, {"country", "Country"}, {"zip_code", "Zip Code"}, {"state", "State"}};

constexpr Field kContentFields[] = {
    {"price", "Price", T::kNumber},           {"quantity", "Quantity", T::kNumber},
    {"content_category", "Content Category"}, {"content_id", "Content ID"},
    {"content_name", "Content Name"},         {"brand", "Brand"}};

constexpr Field kLeadFields[] = {{"lead_id", "TikTok Lead ID"},
                                 {"lead_event_source", "TikTok Lead Event Source"}};

constexpr Field kVehicleFields[] = {
    {"postal_code", "Postal Code"},
    {"make", "Make of the Vehicle"},
    {"model", "Model of the Vehicle"},
    {"year", "Year of the Vehicle", T::kNumber},
    {"state_of_vehicle", "State of the Vehicle", T::kString, false, kVehicleStates},
    {"mileage_value", "Mileage Value", T::kNumber},
    {"mileage_unit", "Mileage Unit", T::kString, false, kMileageUnits},
    {"exterior_color", "Exterior Color of the Vehicle"},
    {"transmission", "Transmission Type of the Vehicle", T::kString, false, kTransmissions},
    {"body_style", "Body Type of the Vehicle", T::kString, false, kBodyStyles},
    {"fuel_type", "Fuel Type of the Vehicle", T::kString, false, kFuelTypes},
    {"drivetrain", "Drivetrain of the Vehicle", T::kString, false, kDrivetrains},
    {"preferred_price_range_min", "Minimum Preferred Price", T::kNumber},
    {"preferred_price_range_max", "Maximum Preferred Price", T::kNumber},
    {"trim", "Trim of the Vehicle"},
    {"vin", "VIN of the Vehicle"},
    {"interior_color", "Interior Color of the Vehicle"},
    {"condition_of_vehicle", "Condition of the Vehicle", T::kString, false, kConditions},
    {"viewcontent_type", "Soft Lead Landing Page"},
    {"search_type", "Other Search Page"},
    {"registration_type", "Other Registration Page"}};

constexpr Field kTravelFields[] = {
    {"city", "Hotel City Location"},
    {"region", "Hotel Region"},
    {"country", "Hotel Country"},
    {"checkin_date", "Hotel Check-in Date"},
    {"checkout_date", "Hotel Check-out Date"},
    {"num_adults", "Number of Adults", T::kNumber},
    {"num_children", "Number of Children", T::kNumber},
    {"num_infants", "Number of Infants", T::kNumber},
    {"suggested_hotels", "Suggested Hotels", T::kString, true},
    {"departing_departure_date", "Departure Date"},
    {"returning_departure_date", "Arrival Date"},
    {"origin_airport", "Origin Airport"},
    {"destination_airport", "Destination Airport"},
    {"destination_ids", "Destination IDs", T::kString, true},
    {"departing_arrival_date", "Departing Arrival Date"},
    {"returning_arrival_date", "Returning Arrival Date"},
    {"travel_class", "Flight Ticket Class", T::kString, false, kTravelClasses},
    {"user_score", "User Score", T::kNumber},
    {"preferred_num_stops", "Preferred Number of Stops", T::kInteger},
    {"travel_start", "Start Date of the Trip"},
    {"travel_end", "End Date of the Trip"},
    {"suggested_destinations", "Suggested Destination IDs", T::kString, true}};

// The action's fields in Segment's order (common fields, CRM fields, vehicle, travel).
constexpr Field kFields[] = {
    {"event_source", "Event Source", T::kString, false, kEventSources},
    {"event_spec_type", "Additional Fields", T::kString, false, kSpecTypes},
    {"event", "Event Name"},
    {"event_id", "Event ID"},
    {"timestamp", "Event Timestamp"},
    {"phone_number", "Phone Number", T::kString, true},
    {"email", "Email", T::kString, true},
    {"first_name", "First Name"},
    {"last_name", "Last Name"},
    {"address", "Address", T::kObject, false, {}, kAddressFields},
    {"order_id", "Order ID"},
    {"shop_id", "Shop ID"},
    {"external_id", "External ID", T::kString, true},
    {"ttclid", "TikTok Click ID"},
    {"ttp", "TikTok Cookie ID"},
    {"locale", "Locale"},
    {"url", "Page URL"},
    {"referrer", "Page Referrer"},
    {"ip", "IP Address"},
    {"user_agent", "User Agent"},
    {"contents", "Contents", T::kObject, true, {}, kContentFields},
    {"content_ids", "Content IDs", T::kString, true},
    {"num_items", "Number of Items", T::kNumber},
    {"content_type", "Content Type", T::kString, false, kContentTypes},
    {"currency", "Currency"},
    {"value", "Value", T::kNumber},
    {"description", "Description"},
    {"query", "Query"},
    {"limited_data_use", "Limited Data Use", T::kBoolean},
    {"test_event_code", "Test Event Code"},
    {"delivery_category", "Delivery Category", T::kString, false, kDeliveryCategories},
    {"predicted_ltv", "Prediected Lifetime Value", T::kNumber},
    {"search_string", "Search String"},
    {"lead_fields", "CRM Fields", T::kObject, false, {}, kLeadFields},
    {"vehicle_fields", "Vehicle Fields", T::kObject, false, {}, kVehicleFields},
    {"travel_fields", "Travel Fields", T::kObject, false, {}, kTravelFields}};

constexpr std::string_view kFieldDefaultsJson =
    R"json({"event_source":"web","event_id":{"@path":"$.messageId"},"timestamp":{"@path":"$.t)json"
    R"json(imestamp"},"phone_number":{"@if":{"exists":{"@path":"$.properties.phone"},"then":{)json"
    R"json("@path":"$.properties.phone"},"else":{"@path":"$.context.traits.phone"}}},"email":)json"
    R"json({"@if":{"exists":{"@path":"$.properties.email"},"then":{"@path":"$.properties.emai)json"
    R"json(l"},"else":{"@path":"$.context.traits.email"}}},"first_name":{"@if":{"exists":{"@p)json"
    R"json(ath":"$.properties.first_name"},"then":{"@path":"$.properties.first_name"},"else":)json"
    R"json({"@path":"$.context.traits.first_name"}}},"last_name":{"@if":{"exists":{"@path":"$)json"
    R"json(.properties.last_name"},"then":{"@path":"$.properties.last_name"},"else":{"@path":)json"
    R"json("$.context.traits.last_name"}}},"address":{"city":{"@if":{"exists":{"@path":"$.pro)json"
    R"json(perties.address.city"},"then":{"@path":"$.properties.address.city"},"else":{"@path)json"
    R"json(":"$.context.traits.address.city"}}},"country":{"@if":{"exists":{"@path":"$.proper)json"
    R"json(ties.address.country"},"then":{"@path":"$.properties.address.country"},"else":{"@p)json"
    R"json(ath":"$.context.traits.address.country"}}},"zip_code":{"@if":{"exists":{"@path":"$)json"
    R"json(.properties.address.postal_code"},"then":{"@path":"$.properties.address.postal_cod)json"
    R"json(e"},"else":{"@path":"$.context.traits.address.postal_code"}}},"state":{"@if":{"exi)json"
    R"json(sts":{"@path":"$.properties.address.state"},"then":{"@path":"$.properties.address.)json"
    R"json(state"},"else":{"@path":"$.context.traits.address.state"}}}},"order_id":{"@path":")json"
    R"json($.properties.order_id"},"shop_id":{"@path":"$.properties.shop_id"},"external_id":{)json"
    R"json("@if":{"exists":{"@path":"$.userId"},"then":{"@path":"$.userId"},"else":{"@path":")json"
    R"json($.anonymousId"}}},"ttclid":{"@if":{"exists":{"@path":"$.properties.ttclid"},"then")json"
    R"json(:{"@path":"$.properties.ttclid"},"else":{"@path":"$.integrations.TikTok Conversion)json"
    R"json(s.ttclid"}}},"ttp":{"@if":{"exists":{"@path":"$.properties.ttp"},"then":{"@path":")json"
    R"json($.properties.ttp"},"else":{"@path":"$.integrations.TikTok Conversions.ttp"}}},"loc)json"
    R"json(ale":{"@path":"$.context.locale"},"url":{"@path":"$.context.page.url"},"referrer":)json"
    R"json({"@path":"$.context.page.referrer"},"ip":{"@path":"$.context.ip"},"user_agent":{"@)json"
    R"json(path":"$.context.userAgent"},"content_ids":{"@path":"$.properties.content_ids"},"n)json"
    R"json(um_items":{"@path":"$.properties.num_items"},"content_type":"product","currency":{)json"
    R"json("@path":"$.properties.currency"},"value":{"@if":{"exists":{"@path":"$.properties.v)json"
    R"json(alue"},"then":{"@path":"$.properties.value"},"else":{"@path":"$.properties.revenue)json"
    R"json("}}},"query":{"@path":"$.properties.query"},"limited_data_use":{"@path":"$.propert)json"
    R"json(ies.limited_data_use"},"delivery_category":{"@path":"$.properties.delivery_categor)json"
    R"json(y"},"predicted_ltv":{"@path":"$.properties.predicted_ltv"},"search_string":{"@path)json"
    R"json(":"$.properties.search_string"},"lead_fields":{"lead_id":{"@path":"$.properties.le)json"
    R"json(ad_id"},"lead_event_source":{"@path":"$.properties.lead_event_source"}},"vehicle_f)json"
    R"json(ields":{"postal_code":{"@path":"$.properties.postal_code"},"make":{"@path":"$.prop)json"
    R"json(erties.make"},"model":{"@path":"$.properties.model"},"year":{"@path":"$.properties)json"
    R"json(.year"},"state_of_vehicle":{"@path":"$.properties.state_of_vehicle"},"mileage_valu)json"
    R"json(e":{"@path":"$.properties.mileage_value"},"mileage_unit":{"@path":"$.properties.mi)json"
    R"json(leage_unit"},"exterior_color":{"@path":"$.properties.exterior_color"},"transmissio)json"
    R"json(n":{"@path":"$.properties.transmission"},"body_style":{"@path":"$.properties.body_)json"
    R"json(style"},"fuel_type":{"@path":"$.properties.fuel_type"},"drivetrain":{"@path":"$.pr)json"
    R"json(operties.drive_train"},"preferred_price_range_min":{"@path":"$.properties.preferre)json"
    R"json(d_price_range_min"},"preferred_price_range_max":{"@path":"$.properties.preferred_p)json"
    R"json(rice_range_max"},"trim":{"@path":"$.properties.trim"},"vin":{"@path":"$.properties)json"
    R"json(.vin"},"interior_color":{"@path":"$.properties.interior_color"},"condition_of_vehi)json"
    R"json(cle":{"@path":"$.properties.condition_of_vehicle"},"viewcontent_type":{"@path":"$.)json"
    R"json(properties.viewcontent_type"},"search_type":{"@path":"$.properties.search_type"},")json"
    R"json(registration_type":{"@path":"$.properties.registration_type"}},"travel_fields":{"c)json"
    R"json(ity":{"@path":"$.properties.city"},"region":{"@path":"$.properties.region"},"count)json"
    R"json(ry":{"@path":"$.properties.country"},"checkin_date":{"@path":"$.properties.checkin)json"
    R"json(_date"},"checkout_date":{"@path":"$.properties.checkout_date"},"num_adults":{"@pat)json"
    R"json(h":"$.properties.num_adults"},"num_children":{"@path":"$.properties.num_children"})json"
    R"json(,"num_infants":{"@path":"$.properties.num_infants"},"suggested_hotels":{"@path":"$)json"
    R"json(.properties.suggested_hotels"},"departing_departure_date":{"@path":"$.properties.d)json"
    R"json(eparting_departure_date"},"returning_departure_date":{"@path":"$.properties.return)json"
    R"json(ing_departure_date"},"origin_airport":{"@path":"$.properties.origin_airport"},"des)json"
    R"json(tination_airport":{"@path":"$.properties.destination_airport"},"destination_ids":{)json"
    R"json("@path":"$.properties.destination_ids"},"departing_arrival_date":{"@path":"$.prope)json"
    R"json(rties.departing_arrival_date"},"returning_arrival_date":{"@path":"$.properties.ret)json"
    R"json(urning_arrival_date"},"travel_class":{"@path":"$.properties.travel_class"},"user_s)json"
    R"json(core":{"@path":"$.properties.user_score"},"preferred_num_stops":{"@path":"$.proper)json"
    R"json(ties.preferred_num_stops"},"travel_start":{"@path":"$.properties.travel_start"},"t)json"
    R"json(ravel_end":{"@path":"$.properties.travel_end"},"suggested_destinations":{"@path":")json"
    R"json($.properties.suggested_destinations"}}})json";

// The most properties an object field has (travel_fields).
constexpr size_t kMaxObjectFields = std::size(kTravelFields);
static_assert(std::size(kVehicleFields) <= kMaxObjectFields);

const Field* findField(std::span<const Field> fields, std::string_view key) {
  for (const Field& field : fields) {
    if (mapping::sameKey(field.key, key)) return &field;
  }
  return nullptr;
}

std::string_view typeName(FieldType type) {
  switch (type) {
    case T::kString:
      return "a string";
    case T::kNumber:
      return "a number";
    case T::kInteger:
      return "an integer";
    case T::kBoolean:
      return "a boolean";
    case T::kObject:
      return "an object";
  }
  return "a value";
}

std::string_view humanizeTypeOf(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
    default:
      return "a number";
  }
}

// Ajv's string-to-number coercion: a non-empty string whose JavaScript Number() is not NaN.
std::optional<double> jsNumberFromString(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double number = mapping::jsStringToNumber(text);
  if (std::isnan(number)) return std::nullopt;
  return number;
}

bool isIntegral(double v) { return std::isfinite(v) && std::floor(v) == v; }

// Ajv's type coercion (`coerceTypes: "array"`): converts `value` in place to `type` where Ajv
// would; false when it cannot.
bool coerceTo(json::value& value, FieldType type) {
  if (value.is_array()) {
    json::array& array = value.as_array();
    if (array.size() != 1 || array[0].is_array() || array[0].is_object()) return false;
    if (!coerceTo(array[0], type)) return false;  // a scalar is left unchanged on failure
    json::value item = std::move(array[0]);
    value = std::move(item);
    return true;
  }
  switch (type) {
    case T::kString:
      if (value.is_string()) return true;
      if (value.is_number()) {
        value = jsNumberToString(jsonNumberAsDouble(value));
        return true;
      }
      if (value.is_bool()) {
        value = value.get_bool() ? "true" : "false";
        return true;
      }
      if (value.is_null()) {
        value = "";
        return true;
      }
      return false;
    case T::kNumber:
    case T::kInteger: {
      double number = 0;
      if (value.is_number()) {
        if (type == T::kInteger && value.is_double() && !isIntegral(value.get_double()))
          return false;
        return true;
      }
      if (value.is_string()) {
        auto parsed = jsNumberFromString(value.get_string());
        if (!parsed) return false;
        number = *parsed;
      } else if (value.is_bool()) {
        number = value.get_bool() ? 1 : 0;
      } else if (!value.is_null()) {
        return false;
      }
      if (type == T::kInteger && !isIntegral(number)) return false;
      value = number;
      return true;
    }
    case T::kBoolean:
      if (value.is_bool()) return true;
      if (value.is_string()) {
        if (value.get_string() == "true") {
          value = true;
          return true;
        }
        if (value.get_string() == "false") {
          value = false;
          return true;
        }
        return false;
      }
      if (value.is_number()) {
        double n = jsonNumberAsDouble(value);
        if (n != 0 && n != 1) return false;
        value = (n == 1);
        return true;
      }
      if (value.is_null()) {
        value = false;
        return true;
      }
      return false;
    case T::kObject:
      return value.is_object();
  }
  return false;
}

// A validated value read in place: a Boost.JSON value, or a view of the event that validation
// kept (see buildItem()); empty when the value is absent.
struct ValueRef {
  const json::value* value = nullptr;
  std::optional<simdjson::dom::element> view;

  explicit operator bool() const { return value || view; }
  std::optional<std::string_view> string() const {
    if (value) {
      if (!value->is_string()) return std::nullopt;
      return std::string_view(value->get_string());
    }
    std::string_view text;
    if (view && view->get_string().get(text) == simdjson::SUCCESS) return text;
    return std::nullopt;
  }
  bool isNumber() const { return value ? value->is_number() : view && view->is_number(); }
  // Appends the value as JSON; a view string of a `multiple` field is the list's one item.
  void appendJson(std::string& out, bool multiple) const {
    if (value) {
      appendJsonValue(out, *value);
      return;
    }
    std::string_view text;
    if (view->get_string().get(text) == simdjson::SUCCESS) {
      if (multiple) out += '[';
      appendJsonString(out, text);
      if (multiple) out += ']';
      return;
    }
    appendJsonValue(out, mapping::copyEventValue(*view));  // a number or a boolean: no allocation
  }
};

ValueRef valueOf(const Slot& slot) {
  if (const auto* value = std::get_if<json::value>(&slot)) return ValueRef{value, std::nullopt};
  if (const auto* view = std::get_if<simdjson::dom::element>(&slot)) {
    return ValueRef{nullptr, *view};
  }
  return {};
}

// The text of a slot holding a string (a view or a value), else nullopt.
std::optional<std::string_view> slotString(const Slot& slot) { return valueOf(slot).string(); }

// The property that member `key` of an object field is validated against, or null when
// validation drops the member: an unknown key, null, or "" for a non-string single property
// outside an array item (Segment's rules; array items keep "" and turn null into 0 or "", D6).
const Field* keptProperty(std::span<const Field> properties, std::string_view key, bool isNull,
                          bool isEmptyString, bool arrayItem) {
  const Field* property = findField(properties, key);
  if (property == nullptr || isNull) return nullptr;
  if (!arrayItem && property->type != T::kString && !property->multiple && isEmptyString) {
    return nullptr;
  }
  return property;
}
const Field* keptProperty(std::span<const Field> properties, const mapping::ViewMember& member,
                          bool arrayItem) {
  std::string_view text = "x";
  bool isString = member.value.get_string().get(text) == simdjson::SUCCESS;
  return keptProperty(properties, member.key, member.value.is_null(), isString && text.empty(),
                      arrayItem);
}

// A validated object read in place: a Boost.JSON object, or one of mapping::ViewObjects (whose
// members validation drops are skipped here, see keptProperty()); empty when absent.
class ObjectRef {
 public:
  ObjectRef() = default;
  // A validated object of a field whose properties are `properties`.
  ObjectRef(const json::object* object, std::span<const Field> properties)
      : object_(object), properties_(properties) {}
  ObjectRef(std::span<const mapping::ViewMember> members, std::span<const Field> properties,
            bool arrayItem)
      : members_(members), properties_(properties), viewed_(true), arrayItem_(arrayItem) {}

  explicit operator bool() const { return object_ || viewed_; }
  // The member named `key` (a property of the object's field).
  ValueRef member(std::string_view key) const {
    if (object_) return ValueRef{object_->if_contains(key), std::nullopt};
    for (const mapping::ViewMember& m : members_) {
      if (mapping::sameKey(m.key, key)) {
        if (!keptProperty(properties_, m, arrayItem_)) return {};
        return ValueRef{nullptr, m.value};
      }
    }
    return {};
  }
  std::span<const Field> properties() const { return properties_; }
  // Calls f(property, ValueRef) for each member, in the object's order.
  template <typename F>
  void forEachMember(F&& f) const {
    if (object_) {
      for (const auto& kv : *object_) {
        // validation removed the members of no property
        if (const Field* property = findField(properties_, kv.key())) {
          f(*property, ValueRef{&kv.value(), {}});
        }
      }
      return;
    }
    for (const mapping::ViewMember& m : members_) {
      if (const Field* property = keptProperty(properties_, m, arrayItem_)) {
        f(*property, ValueRef{nullptr, m.value});
      }
    }
  }

 private:
  const json::object* object_ = nullptr;
  std::span<const mapping::ViewMember> members_;
  std::span<const Field> properties_;
  bool viewed_ = false;
  bool arrayItem_ = false;
};

std::string capitalized(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 32);
  return text;
}

consteval size_t slotOf(std::string_view key) {
  for (size_t i = 0; i < std::size(kFields); ++i) {
    if (kFields[i].key == key) return i;
  }
  throw "not a field of the action";
}
static_assert(std::size(kFields) == kActionFieldCount);

constexpr size_t kEventSlot = slotOf("event");
constexpr size_t kEventSourceSlot = slotOf("event_source");
constexpr size_t kLeadFieldsSlot = slotOf("lead_fields");

// A JSON pointer to the value being validated (`/contents/0/price`), written out only when an
// error message needs it.
struct PathRef {
  const PathRef* parent = nullptr;
  std::string_view key;  // used when !isIndex
  size_t index = 0;
  bool isIndex = false;

  void appendTo(std::string& out) const {
    if (parent) parent->appendTo(out);
    out += '/';
    if (isIndex) {
      out += std::to_string(index);
    } else {
      out += key;
    }
  }
  std::string str() const {
    std::string out;
    appendTo(out);
    return out;
  }
};

// Collects validation errors worded as Segment's (ajv-human-errors) are.
class Validator {
 public:
  const std::vector<std::string>& errors() const { return errors_; }

  void validateRoot(Payload& payload) {
    if (isEmptyAtRoot(payload.fields[kEventSlot])) {
      errors_.push_back("The root value is missing the required field 'event'.");
    }
    for (size_t i = 0; i < kActionFieldCount; ++i) {
      Slot& slot = payload.fields[i];
      if (std::holds_alternative<std::monostate>(slot)) continue;
      if (isEmptyAtRoot(slot)) {  // Segment drops null and "" at the top level
        slot.emplace<std::monostate>();
        continue;
      }
      const Field& field = kFields[i];
      if (const auto* view = std::get_if<simdjson::dom::element>(&slot)) {
        if (keepsView(*view, field)) continue;
        json::value copy = mapping::copyEventValue(*view, payload.storage);
        slot.emplace<json::value>(std::move(copy));
      } else if (const auto* objects = std::get_if<mapping::ViewObjects>(&slot)) {
        if (keepsViews(*objects, field)) continue;
        json::value copy = mapping::copyEventObjects(*objects, payload.storage);
        slot.emplace<json::value>(std::move(copy));
      }
      json::value& value = std::get<json::value>(slot);
      PathRef path{nullptr, field.key};
      if (field.multiple) {
        validateMultiple(value, field, path);
      } else {
        validateSingle(value, field, path);
      }
    }
    const std::optional<std::string_view> source = slotString(payload.fields[kEventSourceSlot]);
    if (source && *source == "crm" &&
        std::holds_alternative<std::monostate>(payload.fields[kLeadFieldsSlot])) {
      errors_.push_back("The root value is missing the required field 'lead_fields'.");
    }
  }

 private:
  static bool isEmptyAtRoot(const json::value& value) {
    return value.is_null() || (value.is_string() && value.get_string().empty());
  }
  // A missing slot counts as empty; objects never are.
  static bool isEmptyAtRoot(const Slot& slot) {
    if (std::holds_alternative<std::monostate>(slot)) return true;
    if (const auto* value = std::get_if<json::value>(&slot)) return isEmptyAtRoot(*value);
    const auto* view = std::get_if<simdjson::dom::element>(&slot);
    if (!view) return false;
    std::string_view text;
    return view->is_null() || (view->get_string().get(text) == simdjson::SUCCESS && text.empty());
  }

  // What validation does with an event value `view` of `field` (see buildItem()): keeps it as
  // it is (kBadChoice: and reports that it is not one of the choices), or must copy and coerce
  // it (kCopy). Agrees with validateSingle()/validateMultiple() on the copy.
  enum class ViewFit { kKeep, kBadChoice, kCopy };
  static ViewFit fitOf(simdjson::dom::element view, const Field& field) {
    switch (view.type()) {
      case simdjson::dom::element_type::STRING: {
        if (field.type != T::kString) return ViewFit::kCopy;
        if (field.choices.empty()) return ViewFit::kKeep;
        if (field.multiple) return ViewFit::kCopy;  // no such field; the copy's rules apply
        std::string_view text = view.get_string().value_unsafe();
        for (auto choice : field.choices) {
          if (text == choice) return ViewFit::kKeep;
        }
        return ViewFit::kBadChoice;
      }
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
        return field.type == T::kNumber && !field.multiple ? ViewFit::kKeep : ViewFit::kCopy;
      case simdjson::dom::element_type::BOOL:
        return field.type == T::kBoolean && !field.multiple ? ViewFit::kKeep : ViewFit::kCopy;
      default:
        return ViewFit::kCopy;
    }
  }

  // Whether the event value `view` of top-level `field` stays a view (then checked, an unknown
  // choice reported); false when it must be copied and validated as a value.
  bool keepsView(simdjson::dom::element view, const Field& field) {
    ViewFit fit = fitOf(view, field);
    if (fit == ViewFit::kBadChoice) enumError(field);
    return fit != ViewFit::kCopy;
  }

  // The same for objects of object field `field`: they stay views when every member validation
  // keeps (keptProperty()) keeps its view; unknown choices are then reported in the schema's
  // order, object by object, as validateObject() reports them.
  bool keepsViews(const mapping::ViewObjects& objects, const Field& field) {
    if (field.type != T::kObject || (objects.array && !field.multiple)) return false;
    const bool arrayItem = field.multiple;  // a single object is wrapped into an array
    bool badChoice = false;
    for (size_t k = 0; k < objects.count; ++k) {
      for (const mapping::ViewMember& member : objects.object(k)) {
        const Field* property = keptProperty(field.properties, member, arrayItem);
        if (!property) continue;
        ViewFit fit = fitOf(member.value, *property);
        if (fit == ViewFit::kCopy) return false;
        badChoice |= fit == ViewFit::kBadChoice;
      }
    }
    if (!badChoice) return true;
    for (size_t k = 0; k < objects.count; ++k) {
      ObjectRef object(objects.object(k), field.properties, arrayItem);
      for (const Field& property : field.properties) {
        ValueRef value = object.member(property.key);
        if (value && fitOf(*value.view, property) == ViewFit::kBadChoice) enumError(property);
      }
    }
    return true;
  }

  void typeError(std::string preamble, FieldType type, const json::value& got) {
    errors_.push_back(capitalized(std::move(preamble)) + " must be " + std::string(typeName(type)) +
                      " but it was " + std::string(humanizeTypeOf(got)) + ".");
  }

  void enumError(const Field& field) {
    std::string list;
    for (size_t i = 0; i < field.choices.size(); ++i) {
      if (i > 0) list += (field.choices.size() == 2) ? " " : ", ";
      if (i > 0 && i + 1 == field.choices.size()) list += "or ";
      appendJsonString(list, field.choices[i]);
    }
    errors_.push_back(capitalized(std::string(field.label)) + " must be one of: " + list + ".");
  }

  // coerceTo() leaves the value unchanged when it fails, so the error reports the original type.
  void validateSingle(json::value& value, const Field& field, const PathRef& path) {
    if (field.type == T::kObject) {
      if (!value.is_object()) {
        typeError(std::string(field.label), field.type, value);
        return;
      }
      validateObject(value.as_object(), field.properties, path, false);
      return;
    }
    if (!coerceTo(value, field.type)) {
      typeError(std::string(field.label), field.type, value);
      return;
    }
    if (!field.choices.empty()) {
      bool allowed = false;
      for (auto choice : field.choices) {
        if (value.is_string() && value.get_string() == choice) allowed = true;
      }
      if (!allowed) enumError(field);
    }
  }

  void validateMultiple(json::value& value, const Field& field, const PathRef& path) {
    if (!value.is_array()) {
      json::array wrapped(value.storage());
      wrapped.emplace_back(std::move(value));
      value = std::move(wrapped);
    }
    json::array& array = value.as_array();
    // Segment filters null items (and "" items where a string is not expected).
    for (auto it = array.begin(); it != array.end();) {
      bool drop = it->is_null() ||
                  (field.type != T::kString && it->is_string() && it->get_string().empty());
      it = drop ? array.erase(it) : it + 1;
    }
    for (size_t i = 0; i < array.size(); ++i) {
      PathRef itemPath{&path, {}, i, true};
      json::value& item = array[i];
      if (field.type == T::kObject) {
        if (!item.is_object()) {
          typeError("the value at " + itemPath.str(), field.type, item);
          continue;
        }
        validateObject(item.as_object(), field.properties, itemPath, true);
        continue;
      }
      if (!coerceTo(item, field.type))
        typeError("the value at " + itemPath.str(), field.type, item);
    }
  }

  // `arrayItem`: an object inside a `multiple` field (content items). Segment keeps its null fields
  // (and turns them into 0 or ""); the product drops them (D6).
  void validateObject(json::object& object, std::span<const Field> properties, const PathRef& path,
                      bool arrayItem) {
    // The kept members by their property's position: properties are validated (and errors
    // reported) in the schema's order.
    json::value* byProperty[kMaxObjectFields] = {};
    for (auto it = object.begin(); it != object.end();) {
      const json::value& value = it->value();
      const Field* property =
          keptProperty(properties, it->key(), value.is_null(),
                       value.is_string() && value.get_string().empty(), arrayItem);
      if (!property) {
        it = object.erase(it);  // moves the last member into `it`; earlier members stay put
      } else {
        byProperty[property - properties.data()] = &it->value();
        ++it;
      }
    }
    if (object.empty()) return;
    for (size_t i = 0; i < properties.size(); ++i) {
      json::value* value = byProperty[i];
      if (value == nullptr) continue;
      const Field& property = properties[i];
      PathRef propertyPath{&path, property.key};
      if (property.multiple) {
        validateMultiple(*value, property, propertyPath);
      } else {
        validateSingle(*value, property, propertyPath);
      }
    }
  }

  std::vector<std::string> errors_;
};

// Accessors for the validated payload.
std::optional<std::string_view> stringSlot(const Payload& payload, size_t slot) {
  return slotString(payload.fields[slot]);
}
bool truthySlot(const Payload& payload, size_t slot) {
  std::optional<std::string_view> s = stringSlot(payload, slot);
  return s && !s->empty();
}
// An object field (not `multiple`).
ObjectRef objectSlot(const Payload& payload, size_t slot) {
  const Slot& value = payload.fields[slot];
  if (const auto* json = std::get_if<json::value>(&value); json && json->is_object()) {
    return ObjectRef(&json->get_object(), kFields[slot].properties);
  }
  if (const auto* objects = std::get_if<mapping::ViewObjects>(&value)) {
    return ObjectRef(objects->object(0), kFields[slot].properties, false);
  }
  return {};
}
// Calls f(ObjectRef) for each item of a `multiple` object field.
template <typename F>
void forEachObjectItem(const Slot& slot, std::span<const Field> properties, F&& f) {
  if (const auto* json = std::get_if<json::value>(&slot); json && json->is_array()) {
    for (const auto& item : json->get_array()) f(ObjectRef(&item.get_object(), properties));
  } else if (const auto* objects = std::get_if<mapping::ViewObjects>(&slot)) {
    for (size_t k = 0; k < objects->count; ++k) f(ObjectRef(objects->object(k), properties, true));
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string formDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 &&
               hexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// The first non-empty `ttclid` query parameter of an absolute URL (D8: empty ones are ignored).
std::string ttclidFromUrl(std::string_view url) {
  size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return {};
  for (size_t i = 0; i < colon; ++i) {
    char c = url[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) return {};
  }
  size_t query = url.find('?');
  if (query == std::string_view::npos) return {};
  std::string_view rest = url.substr(query + 1);
  rest = rest.substr(0, rest.find('#'));
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = (amp == std::string_view::npos) ? std::string_view() : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key.find_first_of("%+") == std::string_view::npos ? key != "ttclid"
                                                          : formDecode(key) != "ttclid") {
      continue;
    }
    std::string value =
        (eq == std::string_view::npos) ? std::string() : formDecode(pair.substr(eq + 1));
    if (!value.empty()) return value;
  }
  return {};
}

// D7: the event time in epoch milliseconds: ISO-8601 text, or epoch seconds or milliseconds
// (numbers, coerced to text by validation); nullopt when unparsable.
std::optional<EpochMs> parseEventTime(std::string_view text) {
  if (jsTrim(text).empty()) return std::nullopt;
  if (auto iso = parseIsoTime(text)) return iso;
  auto number = jsNumberFromString(text);
  if (!number || !std::isfinite(*number) || *number < 0) return std::nullopt;
  double ms = (*number < 1e11) ? *number * 1000.0 : *number;  // seconds below year 5138
  if (ms > 8.64e15) return std::nullopt;
  return static_cast<EpochMs>(std::floor(ms));
}

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

void appendKey(std::string& out, std::string_view key, bool& first) {
  if (!first) out += ',';
  first = false;
  out += '"';
  out.append(key);
  out += "\":"sv;
}

// Writes an array of hashed identifiers; blank values are dropped (D5). `append(out, text)`
// appends the hash of one value, or nothing and returns false when the value is blank.
template <typename AppendFn>
void appendHashedList(std::string& out, const Slot& slot, AppendFn append) {
  out += '[';
  bool first = true;
  auto appendItem = [&](std::string_view text) {
    size_t mark = out.size();
    out += first ? "\"" : ",\"";
    if (!append(out, text)) {
      out.resize(mark);
      return;
    }
    first = false;
    out += '"';
  };
  if (const auto* value = std::get_if<json::value>(&slot); value && value->is_array()) {
    for (const auto& item : value->get_array()) {
      if (item.is_string()) appendItem(item.get_string());
    }
  } else if (std::optional<std::string_view> text = slotString(slot)) {
    appendItem(*text);  // a view: the list's one item
  }
  out += ']';
}

void appendPresent(std::string& out, const ObjectRef& from, const Field& field, bool& first) {
  if (ValueRef value = from.member(field.key)) {
    appendKey(out, field.key, first);
    value.appendJson(out, field.multiple);
  }
}

// Writes the members of `from` in the order of its properties (one pass over the members
// instead of one lookup per property).
void appendFieldsInOrder(std::string& out, const ObjectRef& from, bool& first) {
  const std::span<const Field> fields = from.properties();
  ValueRef byField[kMaxObjectFields] = {};
  from.forEachMember([&](const Field& field, ValueRef value) {
    ValueRef& slot = byField[&field - fields.data()];
    if (!slot) slot = value;
  });
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!byField[i]) continue;
    appendKey(out, fields[i].key, first);
    byField[i].appendJson(out, fields[i].multiple);
  }
}

constexpr size_t kPropertySlots[] = {
    slotOf("content_type"), slotOf("currency"),      slotOf("value"),
    slotOf("query"),        slotOf("description"),   slotOf("order_id"),
    slotOf("shop_id"),      slotOf("content_ids"),   slotOf("delivery_category"),
    slotOf("num_items"),    slotOf("predicted_ltv"), slotOf("search_string")};
constexpr std::string_view kVehicleKeys[] = {"postal_code",
                                             "make",
                                             "model",
                                             "year",
                                             "state_of_vehicle",
                                             "exterior_color",
                                             "transmission",
                                             "body_style",
                                             "fuel_type",
                                             "drivetrain",
                                             "trim",
                                             "vin",
                                             "interior_color",
                                             "condition_of_vehicle",
                                             "viewcontent_type",
                                             "search_type",
                                             "registration_type"};

}  // namespace

const boost::json::object& fieldDefaults() {
  static const json::object defaults = json::parse(kFieldDefaultsJson).as_object();
  return defaults;
}

boost::json::object mergeDefaults(const boost::json::object& mapping) {
  json::object merged = mapping;
  for (const auto& kv : fieldDefaults()) {
    if (!merged.contains(kv.key())) merged.emplace(kv.key(), kv.value());
  }
  return merged;
}

bool isActionField(std::string_view key) { return findField(kFields, key) != nullptr; }

int actionFieldIndex(std::string_view key) {
  const Field* field = findField(kFields, key);
  return field ? static_cast<int>(field - kFields) : -1;
}

EpochMs receivedTimeMs(simdjson::dom::element event, EpochMs nowMs) {
  std::string_view text;
  if (event["receivedAt"].get_string().get(text) == simdjson::SUCCESS) {
    if (auto parsed = parseIsoTime(text)) return *parsed;
  }
  return nowMs;
}

Result<BuiltItem> buildItem(Payload& payload, const ItemContext& context) {
  Validator validator;
  validator.validateRoot(payload);
  if (!validator.errors().empty()) {
    std::string message;
    for (const auto& error : validator.errors()) {
      if (!message.empty()) message += ' ';
      message += error;
    }
    return fail(ErrorCode::kInvalidArgument, std::move(message));
  }

  BuiltItem built;
  std::optional<std::string_view> source = stringSlot(payload, kEventSourceSlot);
  built.eventSource = (source && !source->empty()) ? std::string(*source) : std::string("web");
  if (std::optional<std::string_view> code = stringSlot(payload, slotOf("test_event_code"))) {
    built.testEventCode = std::string(*code);
  }
  const bool web = built.eventSource == "web";

  std::string& out = built.json;
  out.reserve(1536);  // the items of realistic events are 0.9-1.2 KB
  out += "{\"event\":"sv;
  built.eventName = std::string(*stringSlot(payload, kEventSlot));
  appendJsonString(out, built.eventName);

  EpochMs eventMs = context.fallbackTimeMs;
  if (std::optional<std::string_view> ts = stringSlot(payload, slotOf("timestamp"))) {
    if (auto parsed = parseEventTime(*ts)) eventMs = *parsed;
  }
  out += ",\"event_time\":"sv;
  out += std::to_string(floorDiv(eventMs, 1000));
  if (truthySlot(payload, slotOf("event_id"))) {
    out += ",\"event_id\":"sv;
    appendJsonString(out, *stringSlot(payload, slotOf("event_id")));
  }

  // user
  out += ",\"user\":{\"external_id\":"sv;
  appendHashedList(out, payload.fields[slotOf("external_id")], appendHashedExternalId);
  out += ",\"phone\":"sv;
  std::string_view region = context.phoneDefaultRegion;
  appendHashedList(out, payload.fields[slotOf("phone_number")],
                   [region](std::string& to, std::string_view phone) {
                     return appendHashedPhone(to, phone, region);
                   });
  out += ",\"email\":"sv;
  appendHashedList(out, payload.fields[slotOf("email")], appendHashedEmail);
  auto appendHashedString = [&](std::string_view key, std::optional<std::string_view> value) {
    out += ",\""sv;
    out += key;
    out += "\":\""sv;
    if (value && !value->empty()) appendHashedNamePart(out, *value);
    out += '"';
  };
  appendHashedString("first_name", stringSlot(payload, slotOf("first_name")));
  appendHashedString("last_name", stringSlot(payload, slotOf("last_name")));
  const ObjectRef address = objectSlot(payload, slotOf("address"));
  for (std::string_view key : {"city", "state", "country"}) {
    out += ",\""sv;
    out += key;
    out += "\":\""sv;
    if (auto value = address.member(key).string()) appendNormalizedLocation(out, *value);
    out += '"';
  }
  appendHashedString("zip_code", address.member("zip_code").string());
  std::string urlTtclid;
  if (std::optional<std::string_view> url = stringSlot(payload, slotOf("url"))) {
    urlTtclid = ttclidFromUrl(*url);
  }
  if (!urlTtclid.empty()) {
    out += ",\"ttclid\":"sv;
    appendJsonString(out, urlTtclid);
  } else if (truthySlot(payload, slotOf("ttclid"))) {
    out += ",\"ttclid\":"sv;
    appendJsonString(out, *stringSlot(payload, slotOf("ttclid")));
  }
  for (size_t slot : {slotOf("ttp"), slotOf("ip"), slotOf("user_agent"), slotOf("locale")}) {
    if (truthySlot(payload, slot)) {
      out += ",\""sv;
      out += kFields[slot].key;
      out += "\":"sv;
      appendJsonString(out, *stringSlot(payload, slot));
    }
  }
  out += '}';

  // properties
  out += ",\"properties\":{\"contents\":["sv;
  bool firstItem = true;
  forEachObjectItem(payload.fields[slotOf("contents")], kContentFields, [&](const ObjectRef& item) {
    if (!firstItem) out += ',';
    firstItem = false;
    out += '{';
    bool first = true;
    appendFieldsInOrder(out, item, first);
    out += '}';
  });
  out += ']';
  bool first = false;
  for (size_t slot : kPropertySlots) {
    if (!std::holds_alternative<std::monostate>(payload.fields[slot])) {
      appendKey(out, kFields[slot].key, first);
      valueOf(payload.fields[slot]).appendJson(out, kFields[slot].multiple);
    }
  }
  std::optional<std::string_view> specType = stringSlot(payload, slotOf("event_spec_type"));
  if (specType && web && *specType == "travel_fields") {
    if (const ObjectRef travel = objectSlot(payload, slotOf("travel_fields"))) {
      appendFieldsInOrder(out, travel, first);
    }
  }
  if (specType && web && *specType == "vehicle_fields") {
    if (const ObjectRef vehicle = objectSlot(payload, slotOf("vehicle_fields"))) {
      for (std::string_view key : kVehicleKeys) {
        appendPresent(out, vehicle, *findField(kVehicleFields, key), first);
      }
      ValueRef unit = vehicle.member("mileage_unit");
      ValueRef mileage = vehicle.member("mileage_value");
      if (unit && mileage.isNumber()) {
        out += ",\"mileage\":{\"unit\":"sv;
        unit.appendJson(out, false);
        out += ",\"value\":"sv;
        mileage.appendJson(out, false);
        out += '}';
      }
      ValueRef low = vehicle.member("preferred_price_range_min");
      ValueRef high = vehicle.member("preferred_price_range_max");
      if (low.isNumber() && high.isNumber()) {
        out += ",\"preferred_price_range\":["sv;
        low.appendJson(out, false);
        out += ',';
        high.appendJson(out, false);
        out += ']';
      }
    }
  }
  out += '}';

  // page
  std::optional<std::string_view> url = stringSlot(payload, slotOf("url"));
  std::optional<std::string_view> referrer = stringSlot(payload, slotOf("referrer"));
  bool hasUrl = url && !url->empty();
  bool hasReferrer = referrer && !referrer->empty();
  if (hasUrl || hasReferrer) {
    out += ",\"page\":{"sv;
    if (hasUrl) {
      out += "\"url\":"sv;
      appendJsonString(out, *url);
    }
    if (hasReferrer) {
      if (hasUrl) out += ',';
      out += "\"referrer\":"sv;
      appendJsonString(out, *referrer);
    }
    out += '}';
  }

  // lead (CRM events)
  if (built.eventSource == "crm") {
    if (const ObjectRef lead = objectSlot(payload, kLeadFieldsSlot)) {
      if (std::optional<std::string_view> leadId = lead.member("lead_id").string()) {
        out += ",\"lead\":{\"lead_id\":"sv;
        appendJsonString(out, *leadId);
        std::optional<std::string_view> source = lead.member("lead_event_source").string();
        if (source && !source->empty()) {
          out += ",\"lead_event_source\":"sv;
          appendJsonString(out, *source);
        }
        out += '}';
      }
    }
  }

  const ValueRef ldu = valueOf(payload.fields[slotOf("limited_data_use")]);
  bool limited = false;
  if (ldu.value) {
    limited = ldu.value->is_bool() && ldu.value->get_bool();
  } else if (ldu.view) {
    limited = ldu.view->get_bool().value_unsafe();  // a view of this boolean field is a boolean
  }
  out += limited ? ",\"limited_data_use\":true}" : ",\"limited_data_use\":false}";
  return built;
}

}  // namespace sluice::tiktok
