// The configuration of one sluice process, as loaded from one YAML (or JSON) file.
// Secrets are given as `${NAME}` and replaced from the environment (or `${file:/path}` from a file);
// they are held here in plain text but never logged: use maskedSummary() for display.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace sluice::config {

// Where a value came from, for error messages: `sluice.yaml:12:5`.
struct Position {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string toString() const;
};

struct SourceConfig {
  std::string name;
  std::string writeKey;  // secret
  Position position;
};

struct ServerConfig {
  std::string listenHost = "127.0.0.1";
  uint16_t listenPort = 8080;
  int threads = 0;                          // 0: one per core
  std::vector<std::string> trustedProxies;  // addresses or CIDRs whose X-Forwarded-For is believed
  std::string adminToken;                   // secret; required when listening beyond loopback
  std::string webhookHeader = "X-Sluice-Write-Key";  // header holding the write key on /v1/webhook
};

struct StorageConfig {
  std::string path = "./data";              // a directory; the embedded store lives inside it
  int64_t retentionMs = 7LL * 86'400'000;   // raw events are kept this long (and until delivered)
  uint64_t minFreeBytes = 512ull << 20;     // below this free disk space, ingest answers 503
  int64_t dedupWindowMs = 24LL * 3'600'000; // same messageId from the same source: stored once
  int64_t dedupMaxEvents = 10'000'000;       // the window holds at most the newest this many (0: no cap)
  int64_t commitIntervalMs = 0;             // the store commits at most this often (0: at once)
};

struct TikTokSettings {
  std::string accessToken;  // secret, required
  std::string pixelCode;    // required
  std::string apiUrl = "https://business-api.tiktok.com/open_api/v1.3/event/track/";
  std::string testEventCode;       // optional
  std::string partnerName;         // optional (D1: none unless configured)
  std::string phoneDefaultRegion;  // optional ISO 3166 region, e.g. "US" (D10)
};

struct SubscriptionConfig {
  std::string name;
  std::string trigger;               // FQL; empty means "always"
  std::string action = "reportWebEvent";
  std::string mappingJson = "{}";    // Segment's mapping JSON, serialised
  bool mergeDefaults = false;
  Position position;                 // of the subscription entry
  // Of the first character of the trigger text (inside the quotes when it is quoted), so that an
  // FQL error at column N of a one-line trigger is at column triggerPosition.column + N - 1.
  Position triggerPosition;
  Position mappingPosition;          // of the mapping value (its `{` or first key)
};

struct BatchConfig {
  int maxEvents = 1000;    // TikTok's maximum per request
  int64_t lingerMs = 250;
  int mapThreads = 0;      // threads mapping events into items; 0: one per core, at most 8
};

struct FlowConfig {
  double maxRequestsPerSecond = 200;    // token bucket; TikTok allows 1,000 per app
  double maxEventsPerSecond = 200'000;
  int initialConcurrency = 4;
  int minConcurrency = 1;
  int maxConcurrency = 32;
  int64_t backoffBaseMs = 500;
  int64_t backoffCapMs = 5 * 60'000;
  double retryBudgetRatio = 0.2;        // retries at most this share of requests
  int64_t connectTimeoutMs = 5'000;
  int64_t requestTimeoutMs = 15'000;
  int breakerFailureThreshold = 5;      // consecutive failures that open the circuit
  int64_t breakerProbeIntervalMs = 30'000;
  int64_t pausedProbeIntervalMs = 60'000;
};

struct DestinationConfig {
  std::string name;
  std::string type;  // "tiktok-conversions"
  bool enabled = true;
  TikTokSettings settings;
  std::vector<std::string> presets = {"all"};  // names, "all" or "none"
  std::vector<SubscriptionConfig> subscriptions;
  std::vector<std::string> sources;            // empty: every source
  BatchConfig batch;
  FlowConfig flow;
  int64_t maxEventAgeMs = 7LL * 86'400'000;    // older events are expired, not sent
  bool canaryEnabled = false;
  int64_t canaryIntervalMs = 15 * 60'000;
  Position position;
};

struct LoggingConfig {
  std::string level = "info";  // trace, debug, info, warn, error
  std::string format = "text"; // text or json
};

// Alerts (src/ops/alerts): volume drops, delivery alerts and their webhooks.
struct WebhookConfig {
  std::string url;  // secret (a Slack URL's path is its key): masked in the summary, never logged
  std::string format = "json";                               // json or slack
  std::vector<std::pair<std::string, std::string>> headers;  // values are secrets
  Position position;
};

struct VolumeDropConfig {
  bool enabled = true;
  double below = 0.5;           // alert when the rate stays below this share of the baseline...
  int64_t forMs = 15 * 60'000;  // ...for this long
  double recoverAbove = 0.7;    // resolved once back above this share...
  int64_t recoverForMs = 5 * 60'000;        // ...for this long
  int64_t rateWindowMs = 5 * 60'000;        // the current rate is measured over this window
  int64_t movingAverageMs = 2 * 3'600'000;  // baseline when there are no previous days
  int64_t minEvents = 30;  // baseline events per rate window below which a stream is not judged
  int historyDays = 7;     // previous days the same-time-of-day baseline looks at
};

struct AlertsConfig {
  int64_t sampleIntervalMs = 5'000;
  int64_t resolveAfterMs = 2 * 60'000;  // delivery alerts resolve after being clear this long
  bool paused = true;                   // alert when a destination is paused
  int64_t backlogAgeMs = 15 * 60'000;   // alert when the oldest undelivered event is older; 0: off
  double errorRate = 0.25;              // alert above this share of failed requests; 0: off
  int64_t errorRateWindowMs = 5 * 60'000;
  int64_t errorRateMinRequests = 20;
  VolumeDropConfig volumeDrop;
  int webhookAttempts = 5;
  int64_t webhookTimeoutMs = 10'000;
  std::vector<WebhookConfig> webhooks;
};

// The incident log (src/ops/incidents): how delivery is sampled and what counts as degraded.
struct IncidentsConfig {
  int64_t sampleIntervalMs = 5'000;            // how often every destination is sampled
  int64_t backlogAgeThresholdMs = 5 * 60'000;  // an older undelivered event means degraded
  int64_t drainedAgeMs = 30'000;  // the backlog counts as drained once its oldest is younger
  int openAfter = 2;              // degraded samples that open an incident (see the README)
  int closeAfter = 2;             // consecutive healthy and drained samples that close it
};

struct Config {
  std::string file;  // the path it was loaded from
  ServerConfig server;
  StorageConfig storage;
  LoggingConfig logging;
  IncidentsConfig incidents;
  AlertsConfig alerts;
  std::vector<SourceConfig> sources;
  std::vector<DestinationConfig> destinations;

  const SourceConfig* findSource(std::string_view name) const;
  const DestinationConfig* findDestination(std::string_view name) const;
};

// The names of the presets of the destination's documentation, in documented order.
const std::vector<std::string>& knownPresetNames();

// Looks up an environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

struct ParseOptions {
  EnvLookup env;  // empty: the process environment (getenv)
};

// Loads and validates `path`. On error (code kInvalidArgument, or kIo when the file cannot be
// read) the message holds one line per problem, in file order, each naming the file, line, column,
// key path and problem, for example `sluice.yaml:14:7: sources[1].write_key: required`. Unknown
// keys, wrong types, out-of-range values and missing required values are errors. Messages never
// contain secret values nor anything substituted from the environment or a secret file.
Result<Config> loadConfig(const std::string& path, const ParseOptions& options = {});

// The same from text; `fileName` is used in messages and stored in Config::file.
Result<Config> parseConfig(std::string_view text, const std::string& fileName,
                           const ParseOptions& options = {});

// The effective configuration (defaults filled in) as indented JSON text with the same keys as the
// YAML file, secrets (write keys, access tokens, the admin token) replaced by "***" ("" when not
// set). Once the secrets are filled in again, the text loads as the same configuration.
std::string maskedSummary(const Config& config);

// `7d`, `90s`, `250ms`: the largest unit that divides `ms` exactly (`0` for zero).
std::string formatDurationMs(int64_t ms);
// `512MiB`, `1GB`, `1234`: the largest binary or decimal unit that divides `bytes` exactly.
std::string formatBytes(uint64_t bytes);
// `127.0.0.1:8080`, `[::1]:8080`.
std::string formatListen(const ServerConfig& server);

}  // namespace sluice::config
