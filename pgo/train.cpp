// The training run of the profile-guided build (cmake/Pgo.cmake, pgo/README.md). Linked against
// the instrumented copies of the mapping and tiktok modules, it maps the event of every golden case
// (tests/reference/segment-golden) the way delivery does: parse, match the triggers, transform,
// serialise a body. Three configurations see every event: Segment's preset catalog as
// subscriptions, sluice's own presets (`all`), and each case's own custom mapping when it has one.
// The counts the run leaves are what steer the optimised build; its output is only a summary.
//
//   sluice_pgo_train --presets segment-reportWebEvent.json --cases DIR [--passes N]
#include <simdjson.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "tiktok/destination.h"

namespace {

namespace json = boost::json;
using sluice::config::DestinationConfig;
using sluice::config::SubscriptionConfig;

std::optional<std::string> readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

DestinationConfig destinationConfig(std::string name) {
  DestinationConfig config;
  config.name = std::move(name);
  config.settings.accessToken = "training-token";
  config.settings.pixelCode = "CTRAININGPIXEL1";
  return config;
}

SubscriptionConfig subscription(const json::value& trigger, const json::value& mapping,
                                std::string name) {
  SubscriptionConfig sub;
  sub.name = std::move(name);
  sub.trigger = std::string(trigger.as_string());
  sub.mappingJson = json::serialize(mapping);
  return sub;
}

struct Training {
  std::vector<sluice::tiktok::Destination> destinations;  // every event goes through each
  std::vector<simdjson::padded_string> events;
  uint64_t bodies = 0, failures = 0;

  bool add(DestinationConfig config) {
    auto destination = sluice::tiktok::Destination::create(config);
    if (!destination) {
      std::fprintf(stderr, "pgo training: destination %s: %s\n", config.name.c_str(),
                   destination.error().message.c_str());
      return false;
    }
    destinations.push_back(std::move(*destination));
    return true;
  }

  void pass(simdjson::dom::parser& parser) {
    const sluice::EpochMs now = 1'717'243'200'000;
    std::vector<size_t> matched;
    for (const auto& text : events) {
      simdjson::dom::element event;
      if (parser.parse(text).get(event) != simdjson::SUCCESS) {
        ++failures;
        continue;
      }
      for (const auto& destination : destinations) {
        matched.clear();
        destination.match(event, matched);
        for (size_t sub : matched) {
          auto item = destination.transform(event, sub, now);
          if (!item) {
            ++failures;
            continue;
          }
          destination.buildBody(std::span<const sluice::tiktok::TikTokEvent>(&*item, 1));
          ++bodies;
        }
      }
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string presetsPath, casesDir;
  int passes = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--presets") {
      presetsPath = argv[i + 1];
    } else if (flag == "--cases") {
      casesDir = argv[i + 1];
    } else if (flag == "--passes") {
      passes = std::max(1, std::atoi(argv[i + 1]));
    } else {
      std::fprintf(stderr, "pgo training: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (presetsPath.empty() || casesDir.empty()) {
    std::fprintf(stderr, "usage: sluice_pgo_train --presets FILE --cases DIR [--passes N]\n");
    return 2;
  }

  Training training;
  DestinationConfig catalog = destinationConfig("segment-catalog");
  catalog.presets = {"none"};
  auto presetsText = readFile(presetsPath);
  json::error_code ec;
  json::value presets = presetsText ? json::parse(*presetsText, ec) : json::value();
  if (!presetsText || ec || !presets.is_object() || !presets.as_object().contains("presets")) {
    std::fprintf(stderr, "pgo training: cannot read the presets in %s\n", presetsPath.c_str());
    return 2;
  }
  for (const auto& preset : presets.at("presets").as_array()) {
    catalog.subscriptions.push_back(subscription(preset.at("subscribe"), preset.at("mapping"),
                                                 std::string(preset.at("name").as_string())));
  }
  DestinationConfig builtIn = destinationConfig("built-in-presets");
  builtIn.presets = {"all"};
  if (!training.add(std::move(catalog)) || !training.add(std::move(builtIn))) return 2;

  std::vector<std::filesystem::path> files;
  std::error_code dirError;
  for (const auto& entry : std::filesystem::directory_iterator(casesDir, dirError)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  DestinationConfig custom = destinationConfig("custom-mappings");
  custom.presets = {"none"};
  for (const auto& file : files) {
    auto text = readFile(file);
    json::value root = text ? json::parse(*text, ec) : json::value();
    const json::object* kase = nullptr;
    if (!ec && root.is_object() && root.as_object().contains("case")) {
      kase = root.at("case").if_object();
    }
    if (!kase || !kase->contains("event")) {
      std::fprintf(stderr, "pgo training: %s is not a golden case\n", file.c_str());
      return 2;
    }
    training.events.emplace_back(json::serialize(kase->at("event")));
    const json::value* mapping = kase->if_contains("mapping");
    const json::value* trigger = kase->if_contains("subscribe");
    // Up to a destination's limit of 50 subscriptions. A mapping that does not compile is a case
    // that checks the error: the training leaves it out.
    if (mapping && mapping->is_object() && trigger && trigger->is_string() &&
        custom.subscriptions.size() < 50) {
      DestinationConfig one = destinationConfig("one");
      one.presets = {"none"};
      one.subscriptions.push_back(subscription(*trigger, *mapping, file.stem().string()));
      if (sluice::tiktok::Destination::create(one)) {
        custom.subscriptions.push_back(std::move(one.subscriptions.front()));
      }
    }
  }
  if (training.events.empty()) {
    std::fprintf(stderr, "pgo training: no golden cases in %s\n", casesDir.c_str());
    return 2;
  }
  if (!custom.subscriptions.empty() && !training.add(std::move(custom))) return 2;

  simdjson::dom::parser parser;
  for (int i = 0; i < passes; ++i) training.pass(parser);
  std::printf(
      "pgo training: %zu events x %d passes through %zu destinations: %llu bodies, %llu "
      "rejected\n",
      training.events.size(), passes, training.destinations.size(),
      static_cast<unsigned long long>(training.bodies),
      static_cast<unsigned long long>(training.failures));
  return 0;
}
