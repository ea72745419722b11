// `sluice check-config --config FILE [--print]`: loads and validates the configuration (including
// every destination's triggers, mappings and presets, compiled as serve would) without starting
// anything. Exit 0 with `OK: N sources, M destinations` on stdout (with --print, the
// effective configuration as JSON with secrets masked goes to stdout and the OK line to stderr, so
// that the JSON can be piped); exit 2 with one line per problem on stderr.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/config_loader.h"

namespace sluice::cli {
namespace {

struct CheckConfigFlags {
  std::string configPath;
  bool print = false;
};

int runCheckConfig(const CheckConfigFlags& flags) {
  const auto config = loadConfigOrReport(flags.configPath, std::cerr);
  if (!config) {
    std::cerr << "check-config: " << flags.configPath << " is not valid\n";
    return kExitConfigError;
  }
  std::ostream& okStream = flags.print ? std::cerr : std::cout;
  if (flags.print) std::cout << config::maskedSummary(*config) << std::flush;
  okStream << "OK: " << config->sources.size() << " sources, " << config->destinations.size()
           << " destinations\n";
  return 0;
}

}  // namespace

void addCheckConfigCommand(CLI::App& app, int* status) {
  auto flags = std::make_shared<CheckConfigFlags>();
  CLI::App* command =
      app.add_subcommand("check-config", "Validate a configuration file without starting");
  addConfigOption(*command, &flags->configPath);
  command->add_flag("--print", flags->print,
                    "Also print the effective configuration as JSON, secrets masked");
  command->callback([flags, status] { *status = runCheckConfig(*flags); });
}

}  // namespace sluice::cli
