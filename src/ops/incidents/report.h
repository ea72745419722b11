// The incident log for people and programs: JSON (the admin API and `sluice incidents --format
// json`) and a Markdown report (`sluice incidents`): a summary table, then per incident its
// timeline, the replies seen, and the impact with what to do about it.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "ops/incidents/incident.h"
#include "ops/incidents/incident_store.h"

namespace sluice::ops::incidents {

// `{"generated_at", "incidents": [...], "canary": [...]}`; every time both as ISO 8601 text and
// as epoch ms (`start`/`start_ms`...), open incidents with `end: null` and their duration so far.
// Field names are listed in README.md.
std::string incidentsJson(const std::vector<Incident>& incidents,
                          const std::vector<CanaryResult>& canary, EpochMs nowMs);

// What the admin API calls: the incidents of `query` and the last `canaryLimit` canary results
// (of query.destination, or all), as incidentsJson() renders them.
Result<std::string> incidentsJson(IncidentStore& store, const IncidentQuery& query, EpochMs nowMs,
                                  size_t canaryLimit = 20);

// `{"canary": [...]}`: canary results, as in incidentsJson().
std::string canaryJson(const std::vector<CanaryResult>& results);

struct MarkdownOptions {
  EpochMs nowMs = 0;
  std::string configPath;   // shown in the suggested commands
  std::string destination;  // the filter applied, if any (shown in the header)
  EpochMs sinceMs = INT64_MIN;
  std::string source;  // where the log was read (the incidents.db path)
};

std::string incidentsMarkdown(const std::vector<Incident>& incidents,
                              const std::vector<CanaryResult>& canary,
                              const MarkdownOptions& options);

// What a reply key means and what delivery did with it: "HTTP 500: server error (retried)".
std::string replyMeaning(const std::string& key);

}  // namespace sluice::ops::incidents
