// The sluice binary: parses the command line and hands over to one subcommand. Only wiring here.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"sluice: a self-hosted conversions gateway from the Segment API to TikTok's Events API"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SLUICE_VERSION);
  int status = 0;
  sluice::cli::addServeCommand(app, &status);
  sluice::cli::addCheckConfigCommand(app, &status);
  sluice::cli::addLogCommand(app, &status);
  sluice::cli::addMockTikTokCommand(app, &status);
  sluice::cli::addPreviewCommand(app, &status);
  sluice::cli::addDlqCommand(app, &status);
  sluice::cli::addExportCommand(app, &status);
  sluice::cli::addReplayCommand(app, &status);
  sluice::cli::addIncidentsCommand(app, &status);
  sluice::cli::addStatusCommand(app, &status);
  CLI11_PARSE(app, argc, argv);
  return status;
}
