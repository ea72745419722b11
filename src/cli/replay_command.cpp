// `sluice replay --config FILE --destination NAME --since TIME [--until TIME] [--timeout S]`:
// sends the raw events received in a time range again through the destination's current mapping
// (after a mapping fix, or to fill a gap). event_id stays the messageId, so TikTok drops what it
// already has. The destination's cursor is not touched. A progress bar goes to stderr on a
// terminal. Exit 0 when every event has a fate, 1 on a failure or timeout, 2 on bad usage.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/config_loader.h"
#include "core/time.h"
#include "delivery/dispatcher.h"
#include "delivery/one_shot.h"
#include "store/delivery_state.h"
#include "store/sqlite_log.h"

namespace sluice::cli {
namespace {

struct ReplayFlags {
  std::string configPath;
  std::string destination;
  std::string since;
  std::string until;
  int64_t timeoutS = 3600;
};

int runReplay(const ReplayFlags& flags) {
  const EpochMs now = SystemClock::instance().nowMs();
  store::TimeRange range;
  auto since = parseTimeArgument(flags.since, now);
  if (!since) {
    std::cerr << "replay: --since: not a time: " << flags.since << "\n";
    return kExitConfigError;
  }
  range.sinceMs = *since;
  if (!flags.until.empty()) {
    auto until = parseTimeArgument(flags.until, now);
    if (!until) {
      std::cerr << "replay: --until: not a time: " << flags.until << "\n";
      return kExitConfigError;
    }
    range.untilMs = *until;
  }
  auto config = loadConfigOrReport(flags.configPath);
  if (!config) return kExitConfigError;
  const config::DestinationConfig* destination = config->findDestination(flags.destination);
  if (destination == nullptr) {
    std::cerr << "replay: no destination named '" << flags.destination << "'\n";
    return kExitConfigError;
  }
  store::SqliteLogOptions logOptions;
  logOptions.directory = config->storage.path;
  logOptions.readOnly = true;
  auto log = store::openSqliteLog(logOptions);
  if (!log) {
    std::cerr << "replay: cannot open the event log: " << log.error().message << "\n";
    return 1;
  }
  auto state = store::openSqliteDeliveryState(config->storage.path, SystemClock::instance());
  if (!state) {
    std::cerr << "replay: " << state.error().message << "\n";
    return 1;
  }
  auto feed = delivery::RangeFeed::open(**log, range);
  if (!feed) {
    std::cerr << "replay: " << feed.error().message << "\n";
    return 1;
  }
  const store::Seq first = (*feed)->firstSeq();
  const store::Seq last = (*feed)->lastSeq();
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  delivery::OneShotOptions options;
  options.timeoutMs = flags.timeoutS * 1000;
  options.progress = [&](const delivery::DispatcherStats& st) {
    if (!tty || first == 0) return;
    const double span = static_cast<double>(last - first + 1);
    const double done = st.committedSeq >= first ? static_cast<double>(st.committedSeq - first + 1)
                                                 : 0.0;
    const double fraction = std::min(1.0, done / span);
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    std::fprintf(stderr, "\r[%s%s] %3.0f%%  %llu delivered, %llu dead, %llu expired%s",
                 std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), '.').c_str(), fraction * 100,
                 static_cast<unsigned long long>(st.itemsDelivered),
                 static_cast<unsigned long long>(st.itemsDead),
                 static_cast<unsigned long long>(st.itemsExpired),
                 st.paused ? "  (paused)" : "");
  };
  auto result = delivery::runOneShot(*destination, std::move(*feed), **state, options);
  if (tty) std::fprintf(stderr, "\n");
  (*log)->close();
  if (!result) {
    std::cerr << "replay: " << result.error().message << "\n";
    return 1;
  }
  std::printf("replayed %llu events: %llu items delivered, %llu dead-lettered, %llu expired, "
              "%llu not for this destination\n",
              static_cast<unsigned long long>(result->eventsRead),
              static_cast<unsigned long long>(result->itemsDelivered),
              static_cast<unsigned long long>(result->itemsDead),
              static_cast<unsigned long long>(result->itemsExpired),
              static_cast<unsigned long long>(result->eventsSkipped));
  return 0;
}

}  // namespace

void addReplayCommand(CLI::App& app, int* status) {
  auto flags = std::make_shared<ReplayFlags>();
  CLI::App* command = app.add_subcommand(
      "replay", "Send a time range of the raw log again through a destination's mapping");
  addConfigOption(*command, &flags->configPath);
  command->add_option("--destination,-d", flags->destination, "The destination's name")
      ->required();
  command->add_option("--since", flags->since, "Events received at or after TIME")->required();
  command->add_option("--until", flags->until, "Events received before TIME");
  command->add_option("--timeout", flags->timeoutS, "Give up after this many seconds (3600)");
  command->callback([flags, status] { *status = runReplay(*flags); });
}

}  // namespace sluice::cli
