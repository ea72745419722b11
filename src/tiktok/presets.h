// The presets of the TikTok Conversions destination as its documentation lists them (the product's
// presets; see README.md for how they relate to Segment's current catalog). Each is a trigger and
// the action's default mapping plus a contents mapping and the TikTok event name. Pure data.
#pragma once

#include <boost/json/object.hpp>
#include <span>
#include <string_view>

namespace sluice::tiktok {

struct Preset {
  std::string_view name;         // "Add to Cart"
  std::string_view trigger;      // FQL: `event = "Product Added"`
  std::string_view tiktokEvent;  // "AddToCart"
  std::string_view
      contentsPath;  // where the products are: "$.properties" or "$.properties.products"
};

// The 7 documented presets, in the documentation's order.
std::span<const Preset> documentedPresets();

// The preset named `name` (exact, case-sensitive), or nullptr.
const Preset* findPreset(std::string_view name);

// The mapping of a preset: the action's field defaults, a contents mapping over `contentsPath` and
// the literal event name, as Segment builds its presets.
boost::json::object presetMapping(const Preset& preset);

// Segment's contents mapping: `@arrayPath` over `path`, each item mapping price, quantity,
// category (content_category), product_id (content_id), name (content_name) and brand.
boost::json::object contentsMapping(std::string_view path);

}  // namespace sluice::tiktok
