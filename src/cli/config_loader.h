// Loading the configuration file for a subcommand. Every command that takes `--config` (serve,
// check-config, log export, preview, replay, dlq, export) should use these two functions, so that
// the option, the way errors are shown and the exit status are the same everywhere:
//
//   std::string path;
//   addConfigOption(*command, &path);
//   ...
//   auto config = loadConfigOrReport(path);
//   if (!config) return kExitConfigError;
#pragma once

#include <iostream>
#include <optional>
#include <string>

#include "config/config.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace sluice::cli {

// The exit status of a command whose configuration (or usage) is not valid.
inline constexpr int kExitConfigError = 2;

// Registers the required option `--config,-c FILE` on `command`, also taken from the environment
// variable SLUICE_CONFIG when the option is not given. The path is stored in `*path`.
CLI::Option* addConfigOption(CLI::App& command, std::string* path);

// Loads and validates the configuration at `path`, then compiles every destination (triggers,
// mappings, presets, settings) with tiktok::validateDestination, as serve would. On failure writes
// every problem to `err`, one per line (`file:line:column: key.path: problem`; never a secret),
// and returns nullopt.
std::optional<config::Config> loadConfigOrReport(const std::string& path,
                                                 std::ostream& err = std::cerr);

}  // namespace sluice::cli
