#include "cli/config_loader.h"

#include <CLI/CLI.hpp>

namespace sluice::cli {

CLI::Option* addConfigOption(CLI::App& command, std::string* path) {
  return command.add_option("--config,-c", *path, "The configuration file (YAML or JSON)")
      ->envname("SLUICE_CONFIG")
      ->required();
}

std::optional<config::Config> loadConfigOrReport(const std::string& path, std::ostream& err) {
  auto config = config::loadConfig(path);
  if (config) return std::move(*config);
  err << config.error().message << "\n";
  return std::nullopt;
}

}  // namespace sluice::cli
