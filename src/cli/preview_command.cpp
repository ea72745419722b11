// sluice preview --config FILE [--now TIME] [FILE|-]
// Reads Segment events (JSON lines, a JSON array, or a {"batch": [...]} object), maps them with
// every enabled destination of the configuration, contacts nothing, and writes one JSON line per
// matched (event, subscription) pair in input order:
//   {"index":I,"destination":NAME,"subscription":NAME,"body":BODY}
// or "error":REASON in place of "body" when the event fails the action's validation.
#include <simdjson.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/config_loader.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/time.h"
#include "tiktok/destination.h"
#include "tiktok/json_writer.h"

namespace sluice::cli {
namespace {

struct PreviewOptions {
  std::string configPath;
  std::string now;
  std::string input = "-";
};

bool readInput(const std::string& path, std::string& text) {
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return true;
}

// The events of `text` as separate JSON texts: a JSON array, a {"batch": [...]} object, a single
// event, or JSON lines. Unparsable lines are reported on stderr and keep their index.
std::vector<std::optional<std::string>> splitEvents(const std::string& text) {
  std::vector<std::optional<std::string>> events;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text).get(root) == simdjson::SUCCESS) {
    simdjson::dom::array list;
    if (root.get_array().get(list) == simdjson::SUCCESS ||
        root["batch"].get_array().get(list) == simdjson::SUCCESS) {
      for (simdjson::dom::element event : list) events.emplace_back(simdjson::minify(event));
    } else {
      events.emplace_back(simdjson::minify(root));
    }
    return events;
  }
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    simdjson::dom::element event;
    if (parser.parse(line).get(event) != simdjson::SUCCESS) {
      std::cerr << "sluice preview: input line " << events.size() + 1 << " is not valid JSON\n";
      events.emplace_back(std::nullopt);
      continue;
    }
    events.emplace_back(line);
  }
  return events;
}

int runPreview(const PreviewOptions& options) {
  auto config = loadConfigOrReport(options.configPath);
  if (!config) return kExitConfigError;
  EpochMs now = SystemClock::instance().nowMs();
  if (!options.now.empty()) {
    auto parsed = parseTimeArgument(options.now, now);
    if (!parsed) {
      std::cerr << "sluice preview: --now: cannot read '" << options.now << "' as a time\n";
      return kExitConfigError;
    }
    now = *parsed;
  }
  std::vector<tiktok::Destination> destinations;
  for (const auto& destination : config->destinations) {
    if (!destination.enabled) continue;
    auto compiled = tiktok::Destination::create(destination);
    if (!compiled) {
      std::cerr << compiled.error().message << "\n";
      return kExitConfigError;
    }
    destinations.push_back(std::move(*compiled));
  }
  std::string text;
  if (!readInput(options.input, text)) {
    std::cerr << "sluice preview: cannot read " << options.input << "\n";
    return 1;
  }
  int status = 0;
  std::vector<std::optional<std::string>> events = splitEvents(text);
  simdjson::dom::parser parser;
  std::vector<size_t> matched;
  std::string out;
  for (size_t index = 0; index < events.size(); ++index) {
    if (!events[index]) {
      status = 1;
      continue;
    }
    simdjson::dom::element event;
    if (parser.parse(*events[index]).get(event) != simdjson::SUCCESS) continue;
    for (const auto& destination : destinations) {
      matched.clear();
      destination.match(event, matched);
      for (size_t sub : matched) {
        out.clear();
        out += "{\"index\":" + std::to_string(index) + ",\"destination\":";
        appendJsonString(out, destination.name());
        out += ",\"subscription\":";
        appendJsonString(out, destination.subscriptionName(sub));
        auto result = destination.transform(event, sub, now);
        if (result) {
          out += ",\"body\":";
          out += destination.buildBody(std::span<const tiktok::TikTokEvent>(&*result, 1));
        } else {
          out += ",\"error\":";
          appendJsonString(out, result.error().message);
        }
        out += "}\n";
        std::cout << out;
      }
    }
  }
  std::cout.flush();
  return status;
}

}  // namespace

void addPreviewCommand(CLI::App& app, int* status) {
  auto options = std::make_shared<PreviewOptions>();
  CLI::App* command = app.add_subcommand(
      "preview", "Map Segment events as the configured destinations would, without sending them");
  addConfigOption(*command, &options->configPath);
  command->add_option("--now", options->now,
                      "The clock for events without a timestamp (ISO-8601, epoch, or -2h)");
  command->add_option(
      "input", options->input,
      "Events: JSON lines, a JSON array or {\"batch\":[...]}; - (default) for stdin");
  command->callback([options, status] { *status = runPreview(*options); });
}

}  // namespace sluice::cli
