#include "tiktok/presets.h"

#include <boost/json/array.hpp>

#include "tiktok/action.h"

namespace sluice::tiktok {
namespace {

constexpr std::string_view kProducts = "$.properties.products";
constexpr std::string_view kProperties = "$.properties";

constexpr Preset kPresets[] = {
    {"Add to Cart", R"(event = "Product Added")", "AddToCart", kProperties},
    {"Place an Order", R"(event = "Order Completed")", "PlaceAnOrder", kProducts},
    {"Search", R"(event = "Products Searched")", "Search", kProperties},
    {"Initiate Checkout", R"(event = "Checkout Started")", "InitiateCheckout", kProducts},
    {"Add Payment Info", R"(event = "Payment Info Entered")", "AddPaymentInfo", kProducts},
    {"Add to Wishlist", R"(event = "Product Added to Wishlist")", "AddToWishlist", kProperties},
    {"View Content", R"(type = "page")", "ViewContent", kProperties},
};

boost::json::object pathOf(std::string_view path) { return {{"@path", path}}; }

}  // namespace

std::span<const Preset> documentedPresets() { return kPresets; }

const Preset* findPreset(std::string_view name) {
  for (const Preset& preset : kPresets) {
    if (preset.name == name) return &preset;
  }
  return nullptr;
}

boost::json::object contentsMapping(std::string_view path) {
  boost::json::object item;
  item["price"] = pathOf("$.price");
  item["quantity"] = pathOf("$.quantity");
  item["content_category"] = pathOf("$.category");
  item["content_id"] = pathOf("$.product_id");
  item["content_name"] = pathOf("$.name");
  item["brand"] = pathOf("$.brand");
  boost::json::array arrayPath;
  arrayPath.emplace_back(path);
  arrayPath.emplace_back(std::move(item));
  return {{"@arrayPath", std::move(arrayPath)}};
}

boost::json::object presetMapping(const Preset& preset) {
  boost::json::object mapping = fieldDefaults();
  mapping["contents"] = contentsMapping(preset.contentsPath);
  mapping["event"] = preset.tiktokEvent;
  return mapping;
}

}  // namespace sluice::tiktok
