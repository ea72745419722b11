// `sluice log export --config FILE [--since TIME] [--until TIME] [--source NAME] [--output FILE]`:
// writes the stored events, as enriched and stored, one JSON object per line, to stdout or FILE.
// TIME is ISO-8601, epoch seconds or milliseconds, or a duration ago (`-2h`, `2h ago`); the range
// is by receivedAt, since inclusive, until exclusive. The log is opened read-only, so this runs
// beside a live server. Progress (count and rate) goes to stderr when stderr is a terminal.
// Exit 0 on success, 1 when the log cannot be read or the output cannot be written, 2 on bad usage
// or configuration.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/config_loader.h"
#include "core/clock.h"
#include "core/time.h"
#include "store/sqlite_log.h"

namespace sluice::cli {
namespace {

struct LogExportFlags {
  std::string configPath;
  std::string since;
  std::string until;
  std::string source;
  std::string output;
};

// Owns the output stream: stdout, or a file that is closed (and checked) at the end.
class Output {
 public:
  static std::optional<Output> open(const std::string& path) {
    if (path.empty() || path == "-") return Output(stdout, false);
    FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) return std::nullopt;
    return Output(file, true);
  }
  Output(Output&& other) noexcept : file_(other.file_), owned_(other.owned_) {
    other.file_ = nullptr;
    other.owned_ = false;
  }
  Output& operator=(Output&&) = delete;
  ~Output() {
    if (owned_ && file_ != nullptr) std::fclose(file_);
  }

  bool writeLine(const std::string& json) {
    return std::fwrite(json.data(), 1, json.size(), file_) == json.size() &&
           std::fputc('\n', file_) != EOF;
  }
  // Flushes (and closes a file); false when anything written was lost.
  bool finish() {
    bool good = std::fflush(file_) == 0 && std::ferror(file_) == 0;
    if (owned_) {
      good = std::fclose(file_) == 0 && good;
      file_ = nullptr;
      owned_ = false;
    }
    return good;
  }

 private:
  Output(FILE* file, bool owned) : file_(file), owned_(owned) {}
  FILE* file_;
  bool owned_;
};

class Progress {
 public:
  Progress() : enabled_(::isatty(STDERR_FILENO) == 1), start_(Clock::now()), last_(start_) {}

  void tick(uint64_t count) {
    if (!enabled_ || (count & 1023) != 0) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    print(count, now, false);
  }
  void done(uint64_t count) {
    if (enabled_) print(count, Clock::now(), true);
  }

 private:
  using Clock = std::chrono::steady_clock;
  void print(uint64_t count, Clock::time_point now, bool final) {
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(count) / seconds : 0;
    std::fprintf(stderr, "\rexported %llu events (%.0f events/s)%s",
                 static_cast<unsigned long long>(count), rate, final ? "\n" : "");
    std::fflush(stderr);
  }
  bool enabled_;
  Clock::time_point start_;
  Clock::time_point last_;
};

int runLogExport(const LogExportFlags& flags) {
  const EpochMs now = SystemClock::instance().nowMs();
  store::TimeRange range;
  if (!flags.since.empty()) {
    auto since = parseTimeArgument(flags.since, now);
    if (!since) {
      std::cerr << "log export: --since: not a time: " << flags.since << "\n";
      return kExitConfigError;
    }
    range.sinceMs = *since;
  }
  if (!flags.until.empty()) {
    auto until = parseTimeArgument(flags.until, now);
    if (!until) {
      std::cerr << "log export: --until: not a time: " << flags.until << "\n";
      return kExitConfigError;
    }
    range.untilMs = *until;
  }

  const auto config = loadConfigOrReport(flags.configPath, std::cerr);
  if (!config) return kExitConfigError;

  store::SqliteLogOptions options;
  options.directory = config->storage.path;
  options.readOnly = true;
  auto log = store::openSqliteLog(options);
  if (!log) {
    std::cerr << "log export: cannot open the event log in '" << config->storage.path
              << "': " << log.error().message << "\n";
    return 1;
  }

  auto output = Output::open(flags.output);
  if (!output) {
    std::cerr << "log export: cannot write " << flags.output << ": " << std::strerror(errno)
              << "\n";
    return 1;
  }

  Progress progress;
  uint64_t count = 0;
  bool writeFailed = false;
  std::optional<std::string> source;
  if (!flags.source.empty()) source = flags.source;
  auto scanned = (*log)->scan(range, source, [&](const store::StoredEvent& event) {
    if (!output->writeLine(event.json)) {
      writeFailed = true;
      return false;
    }
    progress.tick(++count);
    return true;
  });
  progress.done(count);
  const bool flushed = output->finish();
  (*log)->close();
  if (!scanned) {
    std::cerr << "log export: reading the log failed: " << scanned.error().message << "\n";
    return 1;
  }
  if (writeFailed || !flushed) {
    std::cerr << "log export: writing the output failed after " << count << " events\n";
    return 1;
  }
  return 0;
}

}  // namespace

void addLogCommand(CLI::App& app, int* status) {
  CLI::App* log = app.add_subcommand("log", "Work with the stored event log");
  log->require_subcommand(1);
  auto flags = std::make_shared<LogExportFlags>();
  CLI::App* exportCommand = log->add_subcommand(
      "export", "Write stored events (as enriched) as JSON lines, oldest first");
  addConfigOption(*exportCommand, &flags->configPath);
  exportCommand->add_option("--since", flags->since,
                            "Only events received at or after TIME (ISO-8601, epoch, or -2h)");
  exportCommand->add_option("--until", flags->until, "Only events received before TIME");
  exportCommand->add_option("--source", flags->source, "Only events of this source");
  exportCommand->add_option("--output,-o", flags->output, "Write to FILE instead of stdout");
  exportCommand->callback([flags, status] { *status = runLogExport(*flags); });
}

}  // namespace sluice::cli
