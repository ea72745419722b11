#include "config/config.h"

#include "config/json_text.h"

namespace sluice::config {

std::string Position::toString() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const SourceConfig* Config::findSource(std::string_view name) const {
  for (const auto& source : sources) {
    if (source.name == name) return &source;
  }
  return nullptr;
}

const DestinationConfig* Config::findDestination(std::string_view name) const {
  for (const auto& destination : destinations) {
    if (destination.name == name) return &destination;
  }
  return nullptr;
}

const std::vector<std::string>& knownPresetNames() {
  static const std::vector<std::string> kNames = {
      "Add to Cart",     "Place an Order",  "Search",       "Initiate Checkout",
      "Add Payment Info", "Add to Wishlist", "View Content",
  };
  return kNames;
}

std::string formatDurationMs(int64_t ms) {
  if (ms == 0) return "0";
  struct Unit {
    int64_t ms;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {
      {604'800'000, "w"}, {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}};
  for (const auto& unit : kUnits) {
    if (ms % unit.ms == 0) return std::to_string(ms / unit.ms) + unit.suffix;
  }
  return std::to_string(ms) + "ms";
}

std::string formatBytes(uint64_t bytes) {
  if (bytes == 0) return "0";
  struct Unit {
    uint64_t bytes;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {
      {1ull << 40, "TiB"}, {1'000'000'000'000ull, "TB"}, {1ull << 30, "GiB"},
      {1'000'000'000ull, "GB"}, {1ull << 20, "MiB"}, {1'000'000ull, "MB"},
      {1ull << 10, "KiB"}, {1'000ull, "kB"}};
  for (const auto& unit : kUnits) {
    if (bytes % unit.bytes == 0) return std::to_string(bytes / unit.bytes) + unit.suffix;
  }
  return std::to_string(bytes);
}

std::string formatListen(const ServerConfig& server) {
  const bool v6 = server.listenHost.find(':') != std::string::npos;
  return (v6 ? "[" + server.listenHost + "]" : server.listenHost) + ":" +
         std::to_string(server.listenPort);
}

namespace {

constexpr const char* kMask = "***";

void writeSecret(JsonWriter& w, const char* key, const std::string& secret) {
  w.key(key);
  w.value(secret.empty() ? "" : kMask);
}

void writeStrings(JsonWriter& w, const std::vector<std::string>& items) {
  w.beginArray();
  for (const auto& item : items) w.value(item);
  w.endArray();
}

void writeFlow(JsonWriter& w, const FlowConfig& f) {
  w.beginObject();
  w.field("max_requests_per_second", f.maxRequestsPerSecond);
  w.field("max_events_per_second", f.maxEventsPerSecond);
  w.field("initial_concurrency", f.initialConcurrency);
  w.field("min_concurrency", f.minConcurrency);
  w.field("max_concurrency", f.maxConcurrency);
  w.field("backoff_base", formatDurationMs(f.backoffBaseMs));
  w.field("backoff_cap", formatDurationMs(f.backoffCapMs));
  w.field("retry_budget", f.retryBudgetRatio);
  w.field("connect_timeout", formatDurationMs(f.connectTimeoutMs));
  w.field("request_timeout", formatDurationMs(f.requestTimeoutMs));
  w.field("breaker_failure_threshold", f.breakerFailureThreshold);
  w.field("breaker_probe_interval", formatDurationMs(f.breakerProbeIntervalMs));
  w.field("paused_probe_interval", formatDurationMs(f.pausedProbeIntervalMs));
  w.endObject();
}

void writeDestination(JsonWriter& w, const DestinationConfig& d) {
  w.beginObject();
  w.field("name", d.name);
  w.field("type", d.type);
  w.field("enabled", d.enabled);
  w.key("settings");
  w.beginObject();
  writeSecret(w, "access_token", d.settings.accessToken);
  w.field("pixel_code", d.settings.pixelCode);
  w.field("api_url", d.settings.apiUrl);
  w.field("test_event_code", d.settings.testEventCode);
  w.field("partner_name", d.settings.partnerName);
  w.field("phone_default_region", d.settings.phoneDefaultRegion);
  w.endObject();
  w.key("presets");
  if (d.presets.size() == 1 && (d.presets[0] == "all" || d.presets[0] == "none")) {
    w.value(d.presets[0]);
  } else {
    writeStrings(w, d.presets);
  }
  w.key("subscriptions");
  w.beginArray();
  for (const auto& s : d.subscriptions) {
    w.beginObject();
    w.field("name", s.name);
    w.field("trigger", s.trigger);
    w.field("action", s.action);
    w.key("mapping");
    w.raw(s.mappingJson);
    w.field("merge_defaults", s.mergeDefaults);
    w.endObject();
  }
  w.endArray();
  w.key("sources");
  writeStrings(w, d.sources);
  w.key("batch");
  w.beginObject();
  w.field("max_events", d.batch.maxEvents);
  w.field("linger", formatDurationMs(d.batch.lingerMs));
  w.field("map_threads", d.batch.mapThreads);
  w.endObject();
  w.key("flow");
  writeFlow(w, d.flow);
  w.field("max_event_age", formatDurationMs(d.maxEventAgeMs));
  w.key("canary");
  w.beginObject();
  w.field("enabled", d.canaryEnabled);
  w.field("interval", formatDurationMs(d.canaryIntervalMs));
  w.endObject();
  w.endObject();
}

void writeAlerts(JsonWriter& w, const AlertsConfig& a) {
  w.beginObject();
  w.field("sample_interval", formatDurationMs(a.sampleIntervalMs));
  w.field("resolve_after", formatDurationMs(a.resolveAfterMs));
  w.field("paused", a.paused);
  w.field("backlog_age", formatDurationMs(a.backlogAgeMs));
  w.key("error_rate");
  w.beginObject();
  w.field("above", a.errorRate);
  w.field("window", formatDurationMs(a.errorRateWindowMs));
  w.field("min_requests", a.errorRateMinRequests);
  w.endObject();
  const VolumeDropConfig& v = a.volumeDrop;
  w.key("volume_drop");
  w.beginObject();
  w.field("enabled", v.enabled);
  w.field("below", v.below);
  w.field("for", formatDurationMs(v.forMs));
  w.field("recover_above", v.recoverAbove);
  w.field("recover_for", formatDurationMs(v.recoverForMs));
  w.field("rate_window", formatDurationMs(v.rateWindowMs));
  w.field("moving_average", formatDurationMs(v.movingAverageMs));
  w.field("min_events", v.minEvents);
  w.field("history_days", v.historyDays);
  w.endObject();
  w.field("webhook_attempts", a.webhookAttempts);
  w.field("webhook_timeout", formatDurationMs(a.webhookTimeoutMs));
  w.key("webhooks");
  w.beginArray();
  for (const WebhookConfig& h : a.webhooks) {
    w.beginObject();
    writeSecret(w, "url", h.url);
    w.field("format", h.format);
    w.key("headers");
    w.beginObject();
    for (const auto& [name, value] : h.headers) writeSecret(w, name.c_str(), value);
    w.endObject();
    w.endObject();
  }
  w.endArray();
  w.endObject();
}

}  // namespace

std::string maskedSummary(const Config& c) {
  JsonWriter w(/*pretty=*/true);
  w.beginObject();
  w.key("server");
  w.beginObject();
  w.field("listen", formatListen(c.server));
  w.field("threads", c.server.threads);
  w.key("trusted_proxies");
  writeStrings(w, c.server.trustedProxies);
  writeSecret(w, "admin_token", c.server.adminToken);
  w.field("webhook_header", c.server.webhookHeader);
  w.endObject();
  w.key("storage");
  w.beginObject();
  w.field("path", c.storage.path);
  w.field("retention", formatDurationMs(c.storage.retentionMs));
  w.field("min_free_space", formatBytes(c.storage.minFreeBytes));
  w.field("dedup_window", formatDurationMs(c.storage.dedupWindowMs));
  w.field("dedup_max_events", c.storage.dedupMaxEvents);
  w.field("commit_interval", formatDurationMs(c.storage.commitIntervalMs));
  w.endObject();
  w.key("logging");
  w.beginObject();
  w.field("level", c.logging.level);
  w.field("format", c.logging.format);
  w.endObject();
  w.key("incidents");
  w.beginObject();
  w.field("sample_interval", formatDurationMs(c.incidents.sampleIntervalMs));
  w.field("backlog_age_threshold", formatDurationMs(c.incidents.backlogAgeThresholdMs));
  w.field("drained_age", formatDurationMs(c.incidents.drainedAgeMs));
  w.field("open_after", c.incidents.openAfter);
  w.field("close_after", c.incidents.closeAfter);
  w.endObject();
  w.key("alerts");
  writeAlerts(w, c.alerts);
  w.key("sources");
  w.beginArray();
  for (const auto& s : c.sources) {
    w.beginObject();
    w.field("name", s.name);
    writeSecret(w, "write_key", s.writeKey);
    w.endObject();
  }
  w.endArray();
  w.key("destinations");
  w.beginArray();
  for (const auto& d : c.destinations) writeDestination(w, d);
  w.endArray();
  w.endObject();
  return w.text() + "\n";
}

}  // namespace sluice::config
