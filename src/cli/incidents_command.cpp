// `sluice incidents --config FILE [--format md|json] [--destination NAME] [--since TIME]
//  [--limit N]`: the incident log (<storage.path>/incidents.db, written by `sluice serve`; readable
// while it runs) as a Markdown report (summary, per-incident timeline, replies, impact and what to
// do) or as JSON (the admin API's form). Exit 0 on success (also when nothing was recorded yet), 1
// when the log cannot be read, 2 on bad usage or configuration.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/config_loader.h"
#include "core/time.h"
#include "ops/incidents/incident_store.h"
#include "ops/incidents/report.h"

namespace sluice::cli {
namespace {

struct IncidentsFlags {
  std::string configPath;
  std::string format = "md";
  std::string destination;
  std::string since;
  size_t limit = 100;
  size_t canary = 10;
};

int runIncidents(const IncidentsFlags& flags) {
  const EpochMs now = SystemClock::instance().nowMs();
  ops::incidents::IncidentQuery query;
  query.destination = flags.destination;
  query.limit = flags.limit;
  if (!flags.since.empty()) {
    auto t = parseTimeArgument(flags.since, now);
    if (!t) {
      std::cerr << "incidents: --since: not a time: " << flags.since << "\n";
      return kExitConfigError;
    }
    query.sinceMs = *t;
  }
  auto config = loadConfigOrReport(flags.configPath);
  if (!config) return kExitConfigError;
  const std::string path =
      (std::filesystem::path(config->storage.path) / ops::incidents::IncidentStore::kFileName)
          .string();
  std::vector<ops::incidents::Incident> incidents;
  std::vector<ops::incidents::CanaryResult> canary;
  auto store = ops::incidents::IncidentStore::open(config->storage.path, /*create=*/false);
  if (!store && store.error().code != ErrorCode::kNotFound) {
    std::cerr << "incidents: " << store.error().message << "\n";
    return 1;
  }
  if (store) {
    auto listed = (*store)->list(query);
    if (!listed) {
      std::cerr << "incidents: " << listed.error().message << "\n";
      return 1;
    }
    incidents = std::move(*listed);
    auto results = (*store)->canaryResults(flags.destination, flags.canary);
    if (!results) {
      std::cerr << "incidents: " << results.error().message << "\n";
      return 1;
    }
    canary = std::move(*results);
  }
  if (flags.format == "json") {
    std::cout << ops::incidents::incidentsJson(incidents, canary, now) << "\n";
  } else {
    ops::incidents::MarkdownOptions options;
    options.nowMs = now;
    options.configPath = flags.configPath;
    options.destination = flags.destination;
    options.sinceMs = query.sinceMs;
    options.source = path;
    std::cout << ops::incidents::incidentsMarkdown(incidents, canary, options);
    if (!store) std::cout << "(No incident log yet: `sluice serve` creates " << path << ".)\n";
  }
  std::cout.flush();
  return std::cout ? 0 : 1;
}

}  // namespace

void addIncidentsCommand(CLI::App& app, int* status) {
  auto flags = std::make_shared<IncidentsFlags>();
  CLI::App* command = app.add_subcommand(
      "incidents", "The incident log: periods of degraded delivery, their impact, canary results");
  addConfigOption(*command, &flags->configPath);
  command->add_option("--format", flags->format, "md (a Markdown report, default) or json")
      ->check(CLI::IsMember({"md", "json"}));
  command->add_option("--destination", flags->destination, "Only this destination's incidents");
  command->add_option("--since", flags->since,
                      "Only incidents open at or after this time (ISO 8601, or -24h, -7d)");
  command->add_option("--limit", flags->limit, "At most this many (the latest) incidents")
      ->check(CLI::Range(1, 100'000));
  command->add_option("--canary", flags->canary, "How many recent canary results to show")
      ->check(CLI::Range(0, 10'000));
  command->callback([flags, status] { *status = runIncidents(*flags); });
}

}  // namespace sluice::cli
