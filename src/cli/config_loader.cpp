#include "cli/config_loader.h"

#include <CLI/CLI.hpp>

#include "tiktok/destination.h"

namespace sluice::cli {

CLI::Option* addConfigOption(CLI::App& command, std::string* path) {
  return command.add_option("--config,-c", *path, "The configuration file (YAML or JSON)")
      ->envname("SLUICE_CONFIG")
      ->required();
}

std::optional<config::Config> loadConfigOrReport(const std::string& path, std::ostream& err) {
  auto config = config::loadConfig(path);
  if (!config) {
    err << config.error().message << "\n";
    return std::nullopt;
  }
  bool valid = true;
  for (size_t i = 0; i < config->destinations.size(); ++i) {
    if (auto checked = tiktok::validateDestination(config->destinations[i]); !checked) {
      err << checked.error().message << " (destinations[" << i << "])\n";
      valid = false;
    }
  }
  if (!valid) return std::nullopt;
  return std::move(*config);
}

}  // namespace sluice::cli
