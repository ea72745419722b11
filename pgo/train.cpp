// The training run of the profile-guided build (cmake/Pgo.cmake, pgo/README.md). Linked against
// the instrumented copies of the mapping path's modules, it maps the event of every golden case
// (tests/reference/segment-golden) as the dispatcher does: parse, match the triggers, transform,
// then pack the items of one pass into request bodies of up to 1,000. Three configurations see
// every event: Segment's preset catalog as subscriptions, sluice's own presets (`all`), and the
// cases' own custom mappings. The counts the run leaves steer the optimised build; it prints a
// summary, and fails when it could not read its inputs or built no body at all.
//
//   sluice_pgo_train --presets segment-reportWebEvent.json --cases DIR [--passes N]
#include <simdjson.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tiktok/destination.h"

namespace {

namespace json = boost::json;
using sluice::config::DestinationConfig;
using sluice::config::SubscriptionConfig;
using sluice::tiktok::TikTokEvent;

constexpr size_t kMaxBatch = 1000;  // events per request body, as delivery packs them

std::optional<std::string> readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::optional<json::value> readJson(const std::filesystem::path& path) {
  auto text = readFile(path);
  if (!text) return std::nullopt;
  json::error_code ec;
  json::value value = json::parse(*text, ec);
  if (ec) return std::nullopt;
  return value;
}

const json::value* member(const json::value& object, std::string_view key) {
  const json::object* o = object.if_object();
  return o ? o->if_contains(key) : nullptr;
}

DestinationConfig destinationConfig(std::string name, std::string presets) {
  DestinationConfig config;
  config.name = std::move(name);
  config.settings.accessToken = "training-token";
  config.settings.pixelCode = "CTRAININGPIXEL1";
  config.presets = {std::move(presets)};
  return config;
}

// Segment's preset catalog as subscriptions; nullopt when `catalog` is not one.
std::optional<DestinationConfig> catalogConfig(const json::value& catalog) {
  DestinationConfig config = destinationConfig("segment-catalog", "none");
  const json::value* presets = member(catalog, "presets");
  if (!presets || !presets->is_array()) return std::nullopt;
  for (const auto& preset : presets->get_array()) {
    const json::value* name = member(preset, "name");
    const json::value* trigger = member(preset, "subscribe");
    const json::value* mapping = member(preset, "mapping");
    if (!name || !name->is_string() || !trigger || !trigger->is_string() || !mapping) {
      return std::nullopt;
    }
    SubscriptionConfig sub;
    sub.name = std::string(name->get_string());
    sub.trigger = std::string(trigger->get_string());
    sub.mappingJson = json::serialize(*mapping);
    config.subscriptions.push_back(std::move(sub));
  }
  return config;
}

// The custom subscription of a golden case, when it has one that compiles (some cases check a
// configuration error: those are left out).
std::optional<SubscriptionConfig> customSubscription(const json::value& kase, std::string name) {
  const json::value* mapping = member(kase, "mapping");
  if (!mapping || !mapping->is_object()) return std::nullopt;
  SubscriptionConfig sub;
  sub.name = std::move(name);
  if (const json::value* trigger = member(kase, "subscribe"); trigger && trigger->is_string()) {
    sub.trigger = std::string(trigger->get_string());  // none: every event
  }
  sub.mappingJson = json::serialize(*mapping);
  if (const json::value* merge = member(kase, "mergeDefaults"); merge && merge->is_bool()) {
    sub.mergeDefaults = merge->get_bool();
  }
  DestinationConfig one = destinationConfig("one", "none");
  one.subscriptions.push_back(sub);
  if (!sluice::tiktok::Destination::create(one)) return std::nullopt;
  return sub;
}

struct Training {
  std::vector<sluice::tiktok::Destination> destinations;  // every event goes through each
  std::vector<std::vector<TikTokEvent>> pending;          // per destination: the items of this pass
  std::vector<simdjson::padded_string> events;
  uint64_t items = 0, bodies = 0, rejected = 0;

  bool add(const DestinationConfig& config) {
    auto destination = sluice::tiktok::Destination::create(config);
    if (!destination) {
      std::fprintf(stderr, "pgo training: destination %s: %s\n", config.name.c_str(),
                   destination.error().message.c_str());
      return false;
    }
    destinations.push_back(std::move(*destination));
    pending.emplace_back();
    return true;
  }

  void pass(simdjson::dom::parser& parser) {
    const sluice::EpochMs now = 1'717'243'200'000;
    std::vector<size_t> matched;
    for (const auto& text : events) {
      simdjson::dom::element event;
      if (parser.parse(text).get(event) != simdjson::SUCCESS) {
        ++rejected;
        continue;
      }
      for (size_t d = 0; d < destinations.size(); ++d) {
        destinations[d].match(event, matched);
        for (size_t sub : matched) {
          auto item = destinations[d].transform(event, sub, now);
          if (!item) {
            ++rejected;
            continue;
          }
          pending[d].push_back(std::move(*item));
          ++items;
        }
      }
    }
    for (size_t d = 0; d < destinations.size(); ++d) pack(d, pending[d]);
  }

  // Bodies of consecutive items with the same BatchKey, up to kMaxBatch each.
  void pack(size_t d, std::vector<TikTokEvent>& items) {
    std::vector<std::string_view> views;
    for (size_t begin = 0; begin < items.size();) {
      size_t end = begin;
      views.clear();
      while (end < items.size() && end - begin < kMaxBatch && items[end].key == items[begin].key) {
        views.push_back(items[end].item);
        ++end;
      }
      sluice::tiktok::buildRequestBody(items[begin].key, destinations[d].settings().partnerName,
                                       views);
      ++bodies;
      begin = end;
    }
    items.clear();
  }
};

int usage(const char* problem) {
  std::fprintf(stderr,
               "pgo training: %s\nusage: sluice_pgo_train --presets FILE --cases DIR "
               "[--passes N]\n",
               problem);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string presetsPath, casesDir;
  int passes = 200;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return usage("a flag without its value");
    const std::string_view value = argv[i + 1];
    if (flag == "--presets") {
      presetsPath = value;
    } else if (flag == "--cases") {
      casesDir = value;
    } else if (flag == "--passes") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), passes);
      if (ec != std::errc() || end != value.data() + value.size() || passes < 1) {
        return usage("--passes takes a positive whole number");
      }
    } else {
      return usage("unknown flag");
    }
  }
  if (presetsPath.empty() || casesDir.empty()) return usage("--presets and --cases are required");

  Training training;
  auto catalogJson = readJson(presetsPath);
  auto catalog = catalogJson ? catalogConfig(*catalogJson) : std::nullopt;
  if (!catalog) {
    std::fprintf(stderr, "pgo training: %s is not a preset catalog\n", presetsPath.c_str());
    return 2;
  }
  if (!training.add(*catalog) || !training.add(destinationConfig("built-in-presets", "all"))) {
    return 2;
  }

  std::vector<std::filesystem::path> files;
  std::error_code dirError;
  for (const auto& entry : std::filesystem::directory_iterator(casesDir, dirError)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  if (dirError) {
    std::fprintf(stderr, "pgo training: cannot list %s: %s\n", casesDir.c_str(),
                 dirError.message().c_str());
    return 2;
  }
  std::sort(files.begin(), files.end());
  DestinationConfig custom = destinationConfig("custom-mappings", "none");
  for (const auto& file : files) {
    auto root = readJson(file);
    const json::value* kase = root ? member(*root, "case") : nullptr;
    const json::value* event = kase ? member(*kase, "event") : nullptr;
    if (!event) {
      std::fprintf(stderr, "pgo training: %s is not a golden case\n", file.c_str());
      return 2;
    }
    training.events.emplace_back(json::serialize(*event));
    // Up to a destination's limit of 50 subscriptions.
    if (custom.subscriptions.size() < 50) {
      if (auto sub = customSubscription(*kase, file.stem().string())) {
        custom.subscriptions.push_back(std::move(*sub));
      }
    }
  }
  if (training.events.empty()) {
    std::fprintf(stderr, "pgo training: no golden cases in %s\n", casesDir.c_str());
    return 2;
  }
  if (!custom.subscriptions.empty() && !training.add(custom)) return 2;

  simdjson::dom::parser parser;
  for (int i = 0; i < passes; ++i) training.pass(parser);
  std::printf(
      "pgo training: %zu events x %d passes through %zu destinations (%zu custom "
      "mappings): %llu items in %llu bodies, %llu rejected\n",
      training.events.size(), passes, training.destinations.size(), custom.subscriptions.size(),
      static_cast<unsigned long long>(training.items),
      static_cast<unsigned long long>(training.bodies),
      static_cast<unsigned long long>(training.rejected));
  if (training.bodies == 0) {
    std::fprintf(stderr, "pgo training: no event was mapped: the profile would be empty\n");
    return 1;
  }
  return 0;
}
