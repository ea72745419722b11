#include "ops/incidents/report.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstdlib>
#include <map>

#include "core/time.h"
#include "tiktok/reply.h"

namespace sluice::ops::incidents {
namespace {

namespace json = boost::json;

json::value timeValue(EpochMs ms) {
  if (ms == 0) return nullptr;
  return json::value(formatIsoTime(ms));
}

json::object incidentObject(const Incident& incident, EpochMs nowMs) {
  json::object o;
  o["id"] = incident.id;
  o["destination"] = incident.destination;
  o["state"] = incidentStateName(incident.state);
  o["start"] = timeValue(incident.startMs);
  o["start_ms"] = incident.startMs;
  o["recovered"] = timeValue(incident.recoveredMs);
  o["recovered_ms"] = incident.recoveredMs;
  o["end"] = incident.open() ? json::value(nullptr) : timeValue(incident.endMs);
  o["end_ms"] = incident.open() ? 0 : incident.endMs;
  o["duration_ms"] = incident.durationMs(nowMs);
  o["time_to_drain_ms"] = incident.open() ? json::value(nullptr) : json::value(incident.drainMs);
  json::object codes;
  for (const auto& [key, count] : incident.codes) codes[key] = count;
  o["codes"] = std::move(codes);
  o["events_delayed"] = incident.itemsDelayed;
  o["events_dead"] = incident.itemsDead;
  o["events_expired"] = incident.itemsExpired;
  o["max_backlog_events"] = incident.maxBacklogEvents;
  o["max_backlog_age_ms"] = incident.maxBacklogAgeMs;
  o["last_sample"] = timeValue(incident.lastSampleMs);
  json::array timeline;
  for (const auto& entry : incident.timeline) {
    timeline.push_back(json::object{
        {"time", formatIsoTime(entry.timeMs)}, {"time_ms", entry.timeMs}, {"text", entry.text}});
  }
  o["timeline"] = std::move(timeline);
  return o;
}

json::array canaryArray(const std::vector<CanaryResult>& results) {
  json::array out;
  for (const auto& r : results) {
    out.push_back(json::object{{"destination", r.destination},
                               {"time", formatIsoTime(r.timeMs)},
                               {"time_ms", r.timeMs},
                               {"ok", r.ok},
                               {"verdict", r.verdict},
                               {"code", r.code},
                               {"message", r.message},
                               {"latency_ms", r.latencyMs}});
  }
  return out;
}

bool allDigits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

const char* actionOf(tiktok::ReplyClass c) {
  switch (c) {
    case tiktok::ReplyClass::kDelivered:
      return "delivered";
    case tiktok::ReplyClass::kRetry:
      return "retried";
    case tiktok::ReplyClass::kPause:
      return "destination paused";
    case tiktok::ReplyClass::kDead:
      return "dead-lettered";
  }
  return "?";
}

// Markdown table cells must not hold '|' or line breaks.
std::string cell(std::string text) {
  for (char& c : text) {
    if (c == '|') c = '/';
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

std::string shortTime(EpochMs ms) { return ms == 0 ? "-" : formatIsoTime(ms); }

std::string codesText(const std::map<std::string, uint64_t>& codes) {
  if (codes.empty()) return "-";
  std::string out;
  for (const auto& [key, count] : codes) {
    if (!out.empty()) out += ", ";
    out += key + " x" + std::to_string(count);
  }
  return out;
}

}  // namespace

std::string replyMeaning(const std::string& key) {
  static const std::map<std::string, std::string> kKnown = {
      {"40100", "TikTok rate limit"},
      {"40132", "TikTok rate limit"},
      {"61000", "TikTok rate limit"},
      {"40001", "no permission"},
      {"40102", "access token expired"},
      {"40104", "access token missing"},
      {"40105", "access token invalid"},
      {"40300", "account or permission problem"},
      {"40002", "invalid event"},
      {"60001", "TikTok maintenance"},
      {"http_429", "HTTP 429 rate limited"},
      {"timeout", "no reply in time"},
      {"connect", "cannot connect"},
      {"tls", "TLS handshake failed"},
      {"reset", "connection reset"},
  };
  std::string what;
  tiktok::ReplyClass c = tiktok::ReplyClass::kRetry;
  if (allDigits(key)) {
    const int code = std::atoi(key.c_str());
    c = tiktok::classifyReply(200, "{\"code\":" + key + ",\"message\":\"\"}").replyClass;
    if (code >= 50000 && code < 53000) what = "TikTok server error";
  } else if (key.rfind("http_", 0) == 0 && allDigits(key.substr(5))) {
    const int status = std::atoi(key.c_str() + 5);
    c = tiktok::classifyReply(status, "").replyClass;
    if (status >= 500) what = "HTTP " + key.substr(5) + " server error";
    if (what.empty()) what = "HTTP " + key.substr(5);
  } else {
    what = "transport error";
  }
  if (auto it = kKnown.find(key); it != kKnown.end()) what = it->second;
  if (what.empty()) what = "TikTok code " + key;
  return what + " (" + actionOf(c) + ")";
}

std::string incidentsJson(const std::vector<Incident>& incidents,
                          const std::vector<CanaryResult>& canary, EpochMs nowMs) {
  json::object root;
  root["generated_at"] = formatIsoTime(nowMs);
  json::array list;
  for (const auto& incident : incidents) list.push_back(incidentObject(incident, nowMs));
  root["incidents"] = std::move(list);
  root["canary"] = canaryArray(canary);
  return json::serialize(root);
}

Result<std::string> incidentsJson(IncidentStore& store, const IncidentQuery& query, EpochMs nowMs,
                                  size_t canaryLimit) {
  auto incidents = store.list(query);
  if (!incidents) return fail(incidents.error());
  auto canary = store.canaryResults(query.destination, canaryLimit);
  if (!canary) return fail(canary.error());
  return incidentsJson(*incidents, *canary, nowMs);
}

std::string canaryJson(const std::vector<CanaryResult>& results) {
  json::object root;
  root["canary"] = canaryArray(results);
  return json::serialize(root);
}

std::string incidentsMarkdown(const std::vector<Incident>& incidents,
                              const std::vector<CanaryResult>& canary,
                              const MarkdownOptions& options) {
  std::string out = "# Delivery incidents\n\n";
  size_t open = 0;
  for (const auto& i : incidents) open += i.open() ? 1 : 0;
  out += "Generated " + formatIsoTime(options.nowMs) +
         (options.source.empty() ? "" : " from `" + options.source + "`");
  std::string scope;
  if (!options.destination.empty()) scope += " for destination `" + options.destination + "`";
  if (options.sinceMs != INT64_MIN) scope += " since " + formatIsoTime(options.sinceMs);
  out += scope + ": " + std::to_string(incidents.size()) + " incident" +
         (incidents.size() == 1 ? "" : "s") + ", " + std::to_string(open) + " open.\n\n";
  out +=
      "An incident is a period of degraded delivery to one destination (paused, circuit breaker "
      "not closed, replies to retry, or undelivered events too old); it ends once delivery is "
      "healthy and the backlog has drained. Times are UTC. *Events delayed* counts the TikTok "
      "events delivered between its start and end (they had waited behind the failure or its "
      "backlog).\n\n";
  const std::string config = options.configPath.empty() ? "FILE" : options.configPath;

  if (!incidents.empty()) {
    out += "## Summary\n\n";
    out +=
        "| # | destination | state | start | end | duration | replies seen | events delayed | "
        "dead | expired | max backlog | time to drain |\n";
    out += "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& i : incidents) {
      out += "| " + std::to_string(i.id) + " | " + cell(i.destination) + " | " +
             incidentStateName(i.state) + " | " + shortTime(i.startMs) + " | " +
             (i.open() ? std::string("(open)") : shortTime(i.endMs)) + " | " +
             humanDuration(i.durationMs(options.nowMs)) + (i.open() ? " so far" : "") + " | " +
             cell(codesText(i.codes)) + " | " + std::to_string(i.itemsDelayed) + " | " +
             std::to_string(i.itemsDead) + " | " + std::to_string(i.itemsExpired) + " | " +
             std::to_string(i.maxBacklogEvents) + " events, " + humanDuration(i.maxBacklogAgeMs) +
             " old | " + (i.open() ? std::string("-") : humanDuration(i.drainMs)) + " |\n";
    }
    out += "\n";
  }

  for (const auto& i : incidents) {
    out += "## Incident " + std::to_string(i.id) + ": " + i.destination + ", " +
           formatIsoTime(i.startMs) + " (" + incidentStateName(i.state) + ")\n\n";
    out += "- Start: " + formatIsoTime(i.startMs) + "\n";
    if (i.recoveredMs != 0)
      out += "- Delivery healthy again: " + formatIsoTime(i.recoveredMs) + "\n";
    if (i.open()) {
      out += "- Still open; last sampled " + shortTime(i.lastSampleMs) + "\n";
    } else {
      out += "- End (backlog drained): " + formatIsoTime(i.endMs) + "\n";
    }
    out += "- Duration: " + humanDuration(i.durationMs(options.nowMs)) +
           (i.open() ? " so far" : "") + "\n\n";
    out += "### Timeline\n\n";
    for (const auto& entry : i.timeline) {
      out += "- " + formatIsoTime(entry.timeMs) + ": " + entry.text + "\n";
    }
    out += "\n### Replies seen\n\n";
    if (i.codes.empty()) {
      out += "No failed replies were recorded (degraded by backlog age or pause state only).\n\n";
    } else {
      out += "| reply | count | meaning |\n|---|---|---|\n";
      for (const auto& [key, count] : i.codes) {
        out += "| " + cell(key) + " | " + std::to_string(count) + " | " + cell(replyMeaning(key)) +
               " |\n";
      }
      out += "\n";
    }
    out += "### Impact\n\n";
    out += "- Events delayed: " + std::to_string(i.itemsDelayed) +
           " (delivered late, during the incident)\n";
    out += "- Largest backlog: " + std::to_string(i.maxBacklogEvents) +
           " events; oldest undelivered event " + humanDuration(i.maxBacklogAgeMs) + " old\n";
    if (!i.open()) out += "- Time to drain after recovery: " + humanDuration(i.drainMs) + "\n";
    out += "- Dead letters: " + std::to_string(i.itemsDead);
    if (i.itemsDead > 0) {
      out += ": see them with `sluice dlq list --config " + config + " --destination " +
             i.destination + "` and retry them once fixed with `sluice dlq retry`";
    }
    out += "\n- Expired (too old for TikTok's attribution window, not sent): " +
           std::to_string(i.itemsExpired);
    if (i.itemsExpired > 0) {
      out += ": export them for a manual upload in Ads Manager with `sluice export --config " +
             config + " --destination " + i.destination + " --what expired --format csv`";
    }
    out += "\n\n";
  }

  if (!canary.empty()) {
    out += "## Canary events (latest first)\n\n";
    out += "| destination | time | result | reply | latency | message |\n";
    out += "|---|---|---|---|---|---|\n";
    for (const auto& r : canary) {
      out += "| " + cell(r.destination) + " | " + formatIsoTime(r.timeMs) + " | " +
             (r.ok ? "ok" : "failed (" + r.verdict + ")") + " | " + cell(r.code) + " | " +
             std::to_string(r.latencyMs) + " ms | " + cell(r.message) + " |\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace sluice::ops::incidents
