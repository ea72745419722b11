// The subcommands of the `sluice` binary. Each add*Command() registers one subcommand on `app`;
// when that subcommand runs, it stores its process exit status in `*status` (0 on success, 1 on a
// runtime failure, 2 on bad usage or configuration). One .cpp file per command in this folder.
#pragma once

namespace CLI {
class App;
}

namespace sluice::cli {

void addServeCommand(CLI::App& app, int* status);        // sluice serve --config FILE
void addCheckConfigCommand(CLI::App& app, int* status);  // sluice check-config --config FILE
void addLogCommand(CLI::App& app, int* status);          // sluice log export ...
void addMockTikTokCommand(CLI::App& app, int* status);   // sluice mock-tiktok --listen ADDR ...
void addPreviewCommand(CLI::App& app, int* status);      // sluice preview --config FILE [FILE|-]
void addDlqCommand(CLI::App& app, int* status);          // sluice dlq list|show|retry|drop ...
void addExportCommand(CLI::App& app, int* status);       // sluice export --destination NAME ...
void addReplayCommand(CLI::App& app, int* status);       // sluice replay --destination NAME ...
void addIncidentsCommand(CLI::App& app, int* status);    // sluice incidents --config FILE ...
void addStatusCommand(CLI::App& app, int* status);       // sluice status --config FILE | --url URL

}  // namespace sluice::cli
