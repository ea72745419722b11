// `sluice export --config FILE --destination NAME --what expired|dead|all --format csv|jsonl
//  [--since TIME] [--until TIME] [--output FILE]`: writes what a destination could not deliver:
// events past max_event_age (expired) and dead letters. CSV is meant for a manual upload to TikTok
// Ads Manager (columns in src/delivery/README.md, "Export"); JSON lines keep everything. The range
// is by event time. Exit 0 on success, 1 when the store cannot be read or the output written, 2 on
// bad usage or configuration.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/config_loader.h"
#include "core/time.h"
#include "delivery/export_format.h"
#include "store/delivery_state.h"

namespace sluice::cli {
namespace {

struct ExportFlags {
  std::string configPath;
  std::string destination;
  std::string what = "all";
  std::string format = "csv";
  std::string since;
  std::string until;
  std::string output;
};

int runExport(const ExportFlags& flags) {
  const EpochMs now = SystemClock::instance().nowMs();
  store::EventTimeRange range;
  if (!flags.since.empty()) {
    auto t = parseTimeArgument(flags.since, now);
    if (!t) {
      std::cerr << "export: --since: not a time: " << flags.since << "\n";
      return kExitConfigError;
    }
    range.sinceMs = *t;
  }
  if (!flags.until.empty()) {
    auto t = parseTimeArgument(flags.until, now);
    if (!t) {
      std::cerr << "export: --until: not a time: " << flags.until << "\n";
      return kExitConfigError;
    }
    range.untilMs = *t;
  }
  auto config = loadConfigOrReport(flags.configPath);
  if (!config) return kExitConfigError;
  const config::DestinationConfig* destination = config->findDestination(flags.destination);
  if (destination == nullptr) {
    std::cerr << "export: no destination named '" << flags.destination << "'\n";
    return kExitConfigError;
  }
  auto state = store::openSqliteDeliveryState(config->storage.path, SystemClock::instance());
  if (!state) {
    std::cerr << "export: " << state.error().message << "\n";
    return 1;
  }
  FILE* out = stdout;
  if (!flags.output.empty() && flags.output != "-") {
    out = std::fopen(flags.output.c_str(), "wb");
    if (out == nullptr) {
      std::cerr << "export: cannot write " << flags.output << ": " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  const bool csv = flags.format == "csv";
  uint64_t written = 0;
  uint64_t withoutItem = 0;
  bool writeFailed = false;
  auto emit = [&](const delivery::ExportRecord& record) {
    std::string line;
    if (csv) {
      auto row = delivery::csvRow(record);
      if (!row) {
        ++withoutItem;
        return true;
      }
      line = std::move(*row);
    } else {
      line = delivery::jsonLine(record);
    }
    line += '\n';
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
      writeFailed = true;
      return false;
    }
    ++written;
    return true;
  };
  if (csv) {
    const std::string header = delivery::csvHeader() + "\n";
    writeFailed = std::fwrite(header.data(), 1, header.size(), out) != header.size();
  }
  Result<void> scanned = ok();
  if (!writeFailed && (flags.what == "expired" || flags.what == "all")) {
    scanned = (*state)->scanExpired(destination->name, range, [&](const store::ExpiredEvent& e) {
      return emit(delivery::exportRecord(e));
    });
  }
  if (scanned && !writeFailed && (flags.what == "dead" || flags.what == "all")) {
    scanned = (*state)->scanDeadLetters(destination->name, range, [&](const store::DeadLetter& d) {
      return emit(delivery::exportRecord(d));
    });
  }
  const bool flushed = std::fflush(out) == 0 && (out == stdout || std::fclose(out) == 0);
  if (!scanned) {
    std::cerr << "export: " << scanned.error().message << "\n";
    return 1;
  }
  if (writeFailed || !flushed) {
    std::cerr << "export: writing the output failed after " << written << " rows\n";
    return 1;
  }
  std::cerr << "exported " << written << " " << (csv ? "rows" : "records");
  if (withoutItem > 0) {
    std::cerr << " (" << withoutItem
              << " events that could not be mapped are left out of the CSV; use --format jsonl)";
  }
  std::cerr << "\n";
  return 0;
}

}  // namespace

void addExportCommand(CLI::App& app, int* status) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* command = app.add_subcommand(
      "export", "Export a destination's expired events and dead letters (CSV for TikTok, or JSONL)");
  addConfigOption(*command, &flags->configPath);
  command->add_option("--destination,-d", flags->destination, "The destination's name")
      ->required();
  command->add_option("--what", flags->what, "expired, dead or all (default all)")
      ->check(CLI::IsMember({"expired", "dead", "all"}));
  command->add_option("--format", flags->format, "csv or jsonl (default csv)")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  command->add_option("--since", flags->since, "Events at or after TIME (by event time)");
  command->add_option("--until", flags->until, "Events before TIME");
  command->add_option("--output,-o", flags->output, "Write to FILE instead of stdout");
  command->callback([flags, status] { *status = runExport(*flags); });
}

}  // namespace sluice::cli
