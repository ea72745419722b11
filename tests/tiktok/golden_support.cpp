#include "tiktok/golden_support.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "reference_dir.h"
#include "tiktok/presets.h"

namespace sluice::tiktok::testing {
namespace {

namespace json = boost::json;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string goldenDir() { return (sluice::testing::referenceDir() / "segment-golden").string(); }

}  // namespace

std::vector<std::string> goldenCaseNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(goldenDir(), ec)) {
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

GoldenCase loadGoldenCase(const std::string& name) {
  json::value root = json::parse(readFile(goldenDir() + "/" + name + ".json"));
  return GoldenCase{name, root.at("case").as_object(), root.at("expected").as_object()};
}

namespace {
std::string extraDir() {
  const char* env = std::getenv("SLUICE_SOURCE_DIR");
  return (env ? std::string(env) : std::string(SLUICE_DEFAULT_SOURCE_DIR)) + "/tests/tiktok/cases";
}
}  // namespace

std::vector<std::string> extraCaseNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(extraDir(), ec)) {
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

GoldenCase loadExtraCase(const std::string& name) {
  json::value root = json::parse(readFile(extraDir() + "/" + name + ".json"));
  return GoldenCase{name, root.at("case").as_object(), root.at("expected").as_object()};
}

const json::object& segmentPresets() {
  static const json::object presets = [] {
    json::value root =
        json::parse(readFile((sluice::testing::referenceDir() / "segment-reportWebEvent.json").string()));
    json::object out;
    for (const auto& preset : root.at("presets").as_array()) {
      const auto& p = preset.as_object();
      out[p.at("name").as_string()] =
          json::object{{"subscribe", p.at("subscribe")}, {"mapping", p.at("mapping")}};
    }
    return out;
  }();
  return presets;
}

config::DestinationConfig configForCase(const GoldenCase& golden) {
  config::DestinationConfig config;
  config.name = "tiktok";
  config.type = "tiktok-conversions";
  config.position = {"golden.yaml", 1, 1};
  const json::object& settings = golden.input.at("settings").as_object();
  if (auto* token = settings.if_contains("accessToken")) {
    config.settings.accessToken = std::string(token->as_string());
  }
  if (auto* pixel = settings.if_contains("pixelCode")) {
    config.settings.pixelCode = std::string(pixel->as_string());
  }
  config.presets = {"none"};
  const json::value& preset = golden.input.at("preset");
  const json::value& mapping = golden.input.at("mapping");
  auto addSegmentPreset = [&](std::string_view name) {
    const json::object& segment = segmentPresets().at(name).as_object();
    config::SubscriptionConfig sub;
    sub.name = std::string(name);
    sub.trigger = std::string(segment.at("subscribe").as_string());
    sub.mappingJson = json::serialize(segment.at("mapping"));
    config.subscriptions.push_back(sub);
  };
  if (preset.is_string() && mapping.is_null()) {
    std::string name(preset.as_string());
    const Preset* ours = findPreset(name);
    const auto& segment = segmentPresets().at(name).as_object();
    if (ours != nullptr && ours->trigger == segment.at("subscribe").as_string()) {
      config.presets = {name};
    } else {
      addSegmentPreset(name);
    }
  } else if (preset.is_null() && mapping.is_null()) {
    for (const auto& kv : segmentPresets()) addSegmentPreset(kv.key());
  } else {
    config::SubscriptionConfig sub;
    sub.name = "custom";
    if (const auto* subscribe = golden.input.if_contains("subscribe");
        subscribe && subscribe->is_string()) {
      sub.trigger = std::string(subscribe->as_string());
    }
    sub.mappingJson = json::serialize(mapping);
    if (const auto* merge = golden.input.if_contains("mergeDefaults"); merge && merge->is_bool()) {
      sub.mergeDefaults = merge->as_bool();
    }
    sub.triggerPosition = {"golden.yaml", 3, 14};
    sub.mappingPosition = {"golden.yaml", 4, 14};
    config.subscriptions.push_back(sub);
  }
  return config;
}

}  // namespace sluice::tiktok::testing
