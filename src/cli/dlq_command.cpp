// `sluice dlq list|show|retry|drop --config FILE --destination NAME [ID...]`: the dead letters of a
// destination (events TikTok rejected, or that could not be mapped), with TikTok's message.
//   list            id, seq, event time, code, reason and message, oldest first
//   show ID...      every field, the raw event and the mapped item, as JSON lines
//   retry ID...|--all  maps the events again with the current configuration and sends them; the
//                   ones delivered leave the list, the ones rejected again come back as new entries
//   drop ID...|--all   deletes them
// Exit 0 on success, 1 on a runtime failure (store, or TikTok unreachable until --timeout), 2 on bad
// usage or configuration.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/config_loader.h"
#include "core/time.h"
#include "delivery/dispatcher.h"
#include "delivery/export_format.h"
#include "delivery/one_shot.h"
#include "store/delivery_state.h"

namespace sluice::cli {
namespace {

struct DlqFlags {
  std::string action;
  std::string configPath;
  std::string destination;
  std::vector<int64_t> ids;
  bool all = false;
  size_t limit = 1000;
  int64_t timeoutS = 600;
};

std::string oneLine(std::string text, size_t max) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() > max) text = text.substr(0, max - 3) + "...";
  return text;
}

int runDlq(const DlqFlags& flags) {
  auto config = loadConfigOrReport(flags.configPath);
  if (!config) return kExitConfigError;
  const config::DestinationConfig* destination = config->findDestination(flags.destination);
  if (destination == nullptr) {
    std::cerr << "dlq: no destination named '" << flags.destination << "' in "
              << flags.configPath << "\n";
    return kExitConfigError;
  }
  const bool needsIds = flags.action == "show" || flags.action == "retry" ||
                        flags.action == "drop";
  if (needsIds && flags.ids.empty() && !(flags.all && flags.action != "show")) {
    std::cerr << "dlq " << flags.action << ": give dead letter IDs"
              << (flags.action == "show" ? "" : " or --all") << "\n";
    return kExitConfigError;
  }
  auto state = store::openSqliteDeliveryState(config->storage.path, SystemClock::instance());
  if (!state) {
    std::cerr << "dlq: " << state.error().message << "\n";
    return 1;
  }
  store::DeliveryState& s = **state;
  const std::string& name = destination->name;

  if (flags.action == "list") {
    auto list = s.listDeadLetters(name, flags.limit);
    if (!list) {
      std::cerr << "dlq list: " << list.error().message << "\n";
      return 1;
    }
    std::printf("%-8s %-10s %-24s %-6s %-9s %s\n", "ID", "SEQ", "EVENT TIME", "CODE", "REASON",
                "MESSAGE");
    for (const auto& d : *list) {
      std::printf("%-8lld %-10llu %-24s %-6d %-9s %s\n", static_cast<long long>(d.id),
                  static_cast<unsigned long long>(d.seq), formatIsoTime(d.eventTimeMs).c_str(),
                  d.code, d.reason.c_str(), oneLine(d.message, 100).c_str());
    }
    auto count = s.countDeadLetters(name);
    if (count && *count > list->size()) {
      std::printf("(%zu of %llu shown; --limit N for more)\n", list->size(),
                  static_cast<unsigned long long>(*count));
    }
    return 0;
  }

  // The selected dead letters.
  std::vector<store::DeadLetter> selected;
  if (flags.ids.empty()) {
    auto scanned = s.scanDeadLetters(name, {}, [&](const store::DeadLetter& d) {
      selected.push_back(d);
      return true;
    });
    if (!scanned) {
      std::cerr << "dlq: " << scanned.error().message << "\n";
      return 1;
    }
  } else {
    for (int64_t id : flags.ids) {
      auto d = s.deadLetter(name, id);
      if (!d) {
        std::cerr << "dlq " << flags.action << ": " << d.error().message << "\n";
        return d.error().code == ErrorCode::kNotFound ? kExitConfigError : 1;
      }
      selected.push_back(std::move(*d));
    }
  }

  if (flags.action == "show") {
    for (const auto& d : selected) {
      std::string line = delivery::jsonLine(delivery::exportRecord(d));
      line.insert(1, "\"id\":" + std::to_string(d.id) + ",");
      std::printf("%s\n", line.c_str());
    }
    return 0;
  }

  std::vector<int64_t> ids;
  for (const auto& d : selected) ids.push_back(d.id);

  if (flags.action == "drop") {
    auto dropped = s.dropDeadLetters(name, ids);
    if (!dropped) {
      std::cerr << "dlq drop: " << dropped.error().message << "\n";
      return 1;
    }
    std::printf("dropped %llu dead letters\n", static_cast<unsigned long long>(*dropped));
    return 0;
  }

  // retry
  std::vector<store::StoredEvent> events;
  for (const auto& d : selected) events.push_back(store::eventOf(d));
  delivery::OneShotOptions options;
  options.timeoutMs = flags.timeoutS * 1000;
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  options.progress = [&](const delivery::DispatcherStats& st) {
    if (!tty) return;
    std::fprintf(stderr, "\rretrying: %llu delivered, %llu dead, %llu expired",
                 static_cast<unsigned long long>(st.itemsDelivered),
                 static_cast<unsigned long long>(st.itemsDead),
                 static_cast<unsigned long long>(st.itemsExpired));
  };
  auto result = delivery::runOneShot(*destination,
                                     std::make_unique<delivery::ListFeed>(std::move(events)), s,
                                     options);
  if (tty) std::fprintf(stderr, "\n");
  if (!result) {
    std::cerr << "dlq retry: " << result.error().message
              << "; the dead letters are kept (retry again later)\n";
    return 1;
  }
  // Every event has a new fate (delivered, or a new dead letter): the old entries go.
  auto dropped = s.dropDeadLetters(name, ids);
  if (!dropped) {
    std::cerr << "dlq retry: " << dropped.error().message << "\n";
    return 1;
  }
  std::printf("retried %zu dead letters: %llu items delivered, %llu dead again, %llu expired\n",
              ids.size(), static_cast<unsigned long long>(result->itemsDelivered),
              static_cast<unsigned long long>(result->itemsDead),
              static_cast<unsigned long long>(result->itemsExpired));
  return 0;
}

}  // namespace

void addDlqCommand(CLI::App& app, int* status) {
  CLI::App* dlq = app.add_subcommand("dlq", "List, show, retry or drop a destination's dead letters");
  dlq->require_subcommand(1);
  struct Spec {
    const char* name;
    const char* help;
  };
  for (Spec spec : {Spec{"list", "List the dead letters, oldest first"},
                    Spec{"show", "Show dead letters in full (JSON lines)"},
                    Spec{"retry", "Map and send dead letters again with the current configuration"},
                    Spec{"drop", "Delete dead letters"}}) {
    auto flags = std::make_shared<DlqFlags>();
    flags->action = spec.name;
    CLI::App* command = dlq->add_subcommand(spec.name, spec.help);
    addConfigOption(*command, &flags->configPath);
    command->add_option("--destination,-d", flags->destination, "The destination's name")
        ->required();
    if (flags->action == "list") {
      command->add_option("--limit", flags->limit, "At most this many (default 1000)");
    } else {
      command->add_option("ids", flags->ids, "Dead letter IDs (see `dlq list`)");
      if (flags->action != "show") command->add_flag("--all", flags->all, "Every dead letter");
    }
    if (flags->action == "retry") {
      command->add_option("--timeout", flags->timeoutS,
                          "Give up after this many seconds (default 600)");
    }
    command->callback([flags, status] { *status = runDlq(*flags); });
  }
}

}  // namespace sluice::cli
