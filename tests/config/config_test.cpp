#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace sluice::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Parses `text` as "sluice.yaml" with a fixed environment.
Result<Config> parse(std::string_view text, std::map<std::string, std::string> env = {}) {
  ParseOptions options;
  options.env = [env](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return parseConfig(text, "sluice.yaml", options);
}

// The error message of a parse that must fail.
std::string errorOf(std::string_view text, std::map<std::string, std::string> env = {}) {
  const auto result = parse(text, std::move(env));
  EXPECT_FALSE(result.has_value()) << "expected an error for:\n" << text;
  if (result) return "";
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  return result.error().message;
}

constexpr std::string_view kMinimal = R"(sources:
  - name: website
    write_key: wk-123
)";

TEST(ConfigTest, MinimalFileGetsDefaults) {
  const auto config = parse(kMinimal);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->file, "sluice.yaml");
  EXPECT_EQ(config->server.listenHost, "127.0.0.1");
  EXPECT_EQ(config->server.listenPort, 8080);
  EXPECT_EQ(config->server.threads, 0);
  EXPECT_EQ(config->server.webhookHeader, "X-Sluice-Write-Key");
  EXPECT_TRUE(config->server.adminToken.empty());
  EXPECT_EQ(config->storage.path, "./data");
  EXPECT_EQ(config->storage.retentionMs, 7LL * 86'400'000);
  EXPECT_EQ(config->storage.minFreeBytes, 512ull << 20);
  EXPECT_EQ(config->storage.dedupWindowMs, 24LL * 3'600'000);
  EXPECT_EQ(config->storage.commitIntervalMs, 0);
  EXPECT_EQ(config->logging.level, "info");
  EXPECT_EQ(config->logging.format, "text");
  ASSERT_EQ(config->sources.size(), 1u);
  EXPECT_EQ(config->sources[0].name, "website");
  EXPECT_EQ(config->sources[0].writeKey, "wk-123");
  EXPECT_EQ(config->sources[0].position.toString(), "sluice.yaml:2:5");
  EXPECT_TRUE(config->destinations.empty());
  EXPECT_EQ(config->findSource("website"), &config->sources[0]);
  EXPECT_EQ(config->findSource("app"), nullptr);
  EXPECT_EQ(config->findDestination("tiktok"), nullptr);
}

TEST(ConfigTest, EveryServerStorageAndLoggingKey) {
  const auto config = parse(R"(server:
  listen: "0.0.0.0:9000"
  threads: 3
  trusted_proxies: [10.0.0.0/8, "::1", 192.168.1.7]
  admin_token: adm-secret
  webhook_header: X-Segment-Key
storage:
  path: /var/lib/sluice
  retention: 14d
  min_free_space: 1GiB
  dedup_window: 12h
  commit_interval: 2ms
logging:
  level: debug
  format: json
sources:
  - {name: web, write_key: a1}
  - {name: app, write_key: b2}
)");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server.listenHost, "0.0.0.0");
  EXPECT_EQ(config->server.listenPort, 9000);
  EXPECT_EQ(config->server.threads, 3);
  EXPECT_EQ(config->server.trustedProxies,
            (std::vector<std::string>{"10.0.0.0/8", "::1", "192.168.1.7"}));
  EXPECT_EQ(config->server.adminToken, "adm-secret");
  EXPECT_EQ(config->server.webhookHeader, "X-Segment-Key");
  EXPECT_EQ(config->storage.path, "/var/lib/sluice");
  EXPECT_EQ(config->storage.retentionMs, 14LL * 86'400'000);
  EXPECT_EQ(config->storage.minFreeBytes, 1ull << 30);
  EXPECT_EQ(config->storage.dedupWindowMs, 12LL * 3'600'000);
  EXPECT_EQ(config->storage.commitIntervalMs, 2);
  EXPECT_EQ(config->logging.level, "debug");
  EXPECT_EQ(config->logging.format, "json");
  ASSERT_EQ(config->sources.size(), 2u);
  EXPECT_EQ(config->sources[1].name, "app");
}

TEST(ConfigTest, ListenForms) {
  struct Case {
    const char* listen;
    const char* host;
    uint16_t port;
  };
  for (const Case& c : {Case{"127.0.0.1:8080", "127.0.0.1", 8080}, Case{"[::1]:81", "::1", 81},
                        Case{"localhost:0", "localhost", 0}, Case{":8080", "0.0.0.0", 8080}}) {
    const std::string text = std::string("server:\n  listen: \"") + c.listen +
                             "\"\n  admin_token: t\n" + std::string(kMinimal);
    const auto config = parse(text);
    ASSERT_TRUE(config) << c.listen << ": " << config.error().message;
    EXPECT_EQ(config->server.listenHost, c.host);
    EXPECT_EQ(config->server.listenPort, c.port);
  }
  EXPECT_THAT(errorOf("server:\n  listen: 8080\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:2:11: server.listen: expected host:port"));
  EXPECT_THAT(errorOf("server:\n  listen: \"127.0.0.1:70000\"\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:2:11: server.listen: the port must be a number from 0 to 65535"));
  EXPECT_THAT(errorOf("server:\n  listen: \"::1:80\"\n" + std::string(kMinimal)),
              HasSubstr("write an IPv6 address in brackets"));
  EXPECT_THAT(errorOf("server:\n  listen: [::1]:80\n" + std::string(kMinimal)),
              HasSubstr("not valid YAML"));
}

TEST(ConfigTest, AdminTokenRequiredBeyondLoopback) {
  EXPECT_THAT(errorOf("server:\n  listen: \"0.0.0.0:8080\"\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:2:11: server.listen: server.admin_token is required"));
  EXPECT_TRUE(parse("server:\n  listen: \"127.0.0.2:8080\"\n" + std::string(kMinimal)));
}

TEST(ConfigTest, UnknownKeysWithSuggestions) {
  const std::string message = errorOf(R"(server:
  listn: "127.0.0.1:8080"
storage:
  retension: 7d
  colour: blue
sources:
  - name: web
    write_key: k
    writekey: k2
)");
  EXPECT_THAT(message,
              HasSubstr("sluice.yaml:2:3: server: unknown key 'listn' (did you mean 'listen'?)"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:4:3: storage: unknown key 'retension' (did you "
                                 "mean 'retention'?)"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:5:3: storage: unknown key 'colour'\n"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:9:5: sources[0]: unknown key 'writekey' (did you "
                                 "mean 'write_key'?)"));
  EXPECT_THAT(errorOf("sourcess: []\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:1:1: top level: unknown key 'sourcess' (did you mean "
                        "'sources'?)"));
}

TEST(ConfigTest, ProblemsAreListedInFileOrder) {
  const std::string message = errorOf(R"(sources:
  - name: web
storage:
  retention: soon
server:
  threads: many
)");
  const std::vector<std::string> expected = {
      "sluice.yaml:2:5: sources[0].write_key: required",
      "sluice.yaml:4:14: storage.retention: expected a duration such as 250ms, 30s, 5m, 1h or 7d "
      "(got 'soon')",
      "sluice.yaml:6:12: server.threads: expected a whole number (got 'many')",
  };
  std::string joined;
  for (const auto& line : expected) joined += (joined.empty() ? "" : "\n") + line;
  EXPECT_EQ(message, joined);
}

TEST(ConfigTest, RequiredSourceFields) {
  EXPECT_EQ(errorOf("sources:\n  - name: web\n  - write_key: k\n"),
            "sluice.yaml:2:5: sources[0].write_key: required\n"
            "sluice.yaml:3:5: sources[1].name: required");
  EXPECT_EQ(errorOf("sources:\n  - name: web\n    write_key: \"\"\n"),
            "sluice.yaml:3:16: sources[0].write_key: required (it is empty)");
  EXPECT_EQ(errorOf("sources:\n  - name: web\n    write_key:\n"),
            "sluice.yaml:3:5: sources[0].write_key: required");
}

TEST(ConfigTest, AtLeastOneSource) {
  EXPECT_EQ(errorOf(""), "sluice.yaml: sources: at least one source is required");
  EXPECT_EQ(errorOf("server:\n  threads: 2\n"),
            "sluice.yaml: sources: at least one source is required");
  EXPECT_EQ(errorOf("sources: []\n"), "sluice.yaml:1:10: sources: at least one source is required");
  EXPECT_EQ(errorOf("sources:\n"), "sluice.yaml:1:1: sources: at least one source is required");
  EXPECT_EQ(errorOf("sources: web\n"), "sluice.yaml:1:10: sources: expected a list of sources");
  EXPECT_EQ(errorOf("- 1\n- 2\n"),
            "sluice.yaml:1:1: top level: expected an object (key: value pairs)\n"
            "sluice.yaml: sources: at least one source is required");
}

TEST(ConfigTest, WrongTypes) {
  const std::string message = errorOf(R"(server:
  threads: [1, 2]
  trusted_proxies: 10.0.0.1
  webhook_header: "X Bad"
storage:
  path: {a: 1}
  min_free_space: lots
  dedup_window: 250
logging:
  level: loud
  format: xml
sources:
  - name: web
    write_key: k
)");
  EXPECT_THAT(message, HasSubstr("sluice.yaml:2:12: server.threads: expected a string, not a list"));
  EXPECT_THAT(message,
              HasSubstr("sluice.yaml:3:20: server.trusted_proxies: expected a list of strings"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:4:19: server.webhook_header: expected an HTTP header "
                                 "name such as X-Sluice-Write-Key (got 'X Bad')"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:6:9: storage.path: expected a string, not an object"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:7:19: storage.min_free_space: expected a size"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:8:17: storage.dedup_window: expected a duration"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:10:10: logging.level: expected 'trace', 'debug', "
                                 "'info', 'warn', 'error' or 'off' (got 'loud')"));
  EXPECT_THAT(message,
              HasSubstr("sluice.yaml:11:11: logging.format: expected 'text' or 'json' (got 'xml')"));
  EXPECT_THAT(errorOf("storage:\n  commit_interval: 1s\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:2:20: storage.commit_interval: must be from 0 to 100ms"));
  EXPECT_THAT(errorOf("storage:\n  commit_interval: 0.5ms\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:2:20: storage.commit_interval: expected a whole number of "
                        "milliseconds such as 1ms (got '0.5ms')"));
  EXPECT_THAT(errorOf("server: 5\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:1:9: server: expected an object (key: value pairs)"));
  EXPECT_THAT(errorOf("server:\n  trusted_proxies: [10.0.0.0/33]\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:2:21: server.trusted_proxies[0]: expected an IP address or a "
                        "CIDR block"));
}

TEST(ConfigTest, OutOfRange) {
  EXPECT_THAT(errorOf("server:\n  threads: 5000\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:2:12: server.threads: must be from 0 to 1024 (got '5000')"));
  EXPECT_THAT(errorOf("server:\n  threads: -1\n" + std::string(kMinimal)),
              HasSubstr("server.threads: must be from 0 to 1024"));
  EXPECT_THAT(errorOf("storage:\n  retention: 30s\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:2:14: storage.retention: must be from 1m to"));
}

TEST(ConfigTest, DuplicateKeysNamesAndWriteKeys) {
  EXPECT_THAT(errorOf("storage:\n  path: a\n  path: b\n" + std::string(kMinimal)),
              HasSubstr("sluice.yaml:3:3: storage: duplicate key 'path'"));
  const std::string message = errorOf(R"(sources:
  - name: web
    write_key: same-key
  - name: web
    write_key: other
  - name: app
    write_key: same-key
)");
  EXPECT_THAT(message,
              HasSubstr("sluice.yaml:4:11: sources[1].name: duplicate source name 'web' (also at "
                        "line 2)"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:7:16: sources[2].write_key: the same write key as "
                                 "source 'web'; every source needs its own key"));
  EXPECT_THAT(message, Not(HasSubstr("same-key")));
}

TEST(ConfigTest, SourceNamesAreRestricted) {
  EXPECT_THAT(errorOf("sources:\n  - name: \"my site\"\n    write_key: k\n"),
              HasSubstr("sluice.yaml:2:11: sources[0].name: names are 1-64 letters"));
  EXPECT_THAT(errorOf("sources:\n  - name: web\n    write_key: \"a b\"\n"),
              HasSubstr("sources[0].write_key: must not contain white space"));
}

// ---- ${...} substitution

TEST(ConfigTest, EnvironmentSubstitution) {
  const auto config = parse(R"(server:
  listen: "${HOST:-127.0.0.1}:${PORT}"
  threads: ${THREADS:-2}
storage:
  path: ${DATA_DIR:-./data}/sluice
sources:
  - name: web
    write_key: ${WEB_KEY}
  - name: app
    write_key: "prefix-${APP_KEY}-$${literal}"
)",
                            {{"PORT", "9001"}, {"WEB_KEY", "w-secret"}, {"APP_KEY", "a-secret"},
                             {"DATA_DIR", ""}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server.listenHost, "127.0.0.1");
  EXPECT_EQ(config->server.listenPort, 9001);
  EXPECT_EQ(config->server.threads, 2);
  EXPECT_EQ(config->storage.path, "./data/sluice");  // empty counts as unset for :-
  EXPECT_EQ(config->sources[0].writeKey, "w-secret");
  EXPECT_EQ(config->sources[1].writeKey, "prefix-a-secret-${literal}");
}

TEST(ConfigTest, UnsetVariableIsNamedButNoValueLeaks) {
  EXPECT_EQ(errorOf("sources:\n  - name: web\n    write_key: ${SLUICE_WRITE_KEY}\n"),
            "sluice.yaml:3:16: sources[0].write_key: environment variable SLUICE_WRITE_KEY is not "
            "set");
  EXPECT_THAT(errorOf("sources:\n  - name: web\n    write_key: ${oops\n"),
              HasSubstr("sluice.yaml:3:16: sources[0].write_key: unterminated '${'"));
  EXPECT_THAT(errorOf("sources:\n  - name: web\n    write_key: ${1X}\n"),
              HasSubstr("invalid variable reference"));
  // A substituted value is never echoed, even for keys that are not secret.
  const std::string message =
      errorOf("server:\n  threads: ${T}\n" + std::string(kMinimal), {{"T", "very-secret-value"}});
  EXPECT_EQ(message, "sluice.yaml:2:12: server.threads: expected a whole number");
}

TEST(ConfigTest, SubstitutedListItemsAndOddKeysAreNotEchoed) {
  EXPECT_EQ(errorOf("server:\n  trusted_proxies: [\"${P}\"]\n" + std::string(kMinimal),
                    {{"P", "hidden-value"}}),
            "sluice.yaml:2:21: server.trusted_proxies[0]: expected an IP address or a CIDR block "
            "such as 10.0.0.0/8 (got a substituted value)");
  EXPECT_EQ(errorOf("server:\n  listen: \"[${H}]:80\"\n" + std::string(kMinimal), {{"H", "x"}}),
            "sluice.yaml:2:11: server.listen: not an IPv6 address in the brackets");
  // A key with a line break stays on one line of the report.
  EXPECT_EQ(errorOf("\"a\\nb\": 1\n" + std::string(kMinimal)),
            "sluice.yaml:1:1: top level: unknown key 'a\\nb'");
}

TEST(ConfigTest, SecretFiles) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sluice-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "token";
  std::ofstream(file) << "  tok-from-file\n\n";
  const auto config = parse(R"(sources:
  - name: web
    write_key: ${file:)" + file.string() + R"(}
)");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->sources[0].writeKey, "tok-from-file");

  const std::string missing = (dir / "missing").string();
  EXPECT_THAT(errorOf("sources:\n  - name: web\n    write_key: ${file:" + missing + "}\n"),
              HasSubstr("sluice.yaml:3:16: sources[0].write_key: cannot read secret file '" +
                        missing + "': No such file or directory"));
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, ProcessEnvironmentByDefault) {
  ::setenv("SLUICE_CONFIG_TEST_KEY", "from-process", 1);
  const auto config =
      parseConfig("sources:\n  - name: web\n    write_key: ${SLUICE_CONFIG_TEST_KEY}\n", "x.yaml");
  ::unsetenv("SLUICE_CONFIG_TEST_KEY");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->sources[0].writeKey, "from-process");
}

// ---- destinations

constexpr std::string_view kDestination = R"(sources:
  - name: web
    write_key: wk
  - name: app
    write_key: ak
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings:
      access_token: ${TOKEN}
      pixel_code: CABC123
)";

TEST(ConfigTest, DestinationDefaults) {
  const auto config = parse(kDestination, {{"TOKEN", "tt-secret"}});
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(config->destinations.size(), 1u);
  const DestinationConfig& d = config->destinations[0];
  EXPECT_EQ(d.name, "tiktok");
  EXPECT_EQ(d.type, "tiktok-conversions");
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.settings.accessToken, "tt-secret");
  EXPECT_EQ(d.settings.pixelCode, "CABC123");
  EXPECT_EQ(d.settings.apiUrl, "https://business-api.tiktok.com/open_api/v1.3/event/track/");
  EXPECT_EQ(d.presets, std::vector<std::string>{"all"});
  EXPECT_TRUE(d.subscriptions.empty());
  EXPECT_TRUE(d.sources.empty());
  EXPECT_EQ(d.batch.maxEvents, 1000);
  EXPECT_EQ(d.batch.lingerMs, 250);
  EXPECT_EQ(d.flow.maxRequestsPerSecond, FlowConfig{}.maxRequestsPerSecond);
  EXPECT_EQ(d.maxEventAgeMs, 7LL * 86'400'000);
  EXPECT_FALSE(d.canaryEnabled);
  EXPECT_EQ(d.position.toString(), "sluice.yaml:7:5");
  EXPECT_EQ(config->findDestination("tiktok"), &d);
}

TEST(ConfigTest, EveryDestinationKey) {
  const auto config = parse(R"(sources:
  - name: web
    write_key: wk
  - name: app
    write_key: ak
destinations:
  - name: tiktok-eu
    type: tiktok-conversions
    enabled: false
    settings:
      access_token: tok
      pixel_code: CABC123
      api_url: http://127.0.0.1:9090/open_api/v1.3/event/track/
      test_event_code: TEST123
      partner_name: Acme
      phone_default_region: gb
    presets: [Search, "Add to Cart"]
    subscriptions:
      - name: Big orders
        trigger: 'event = "Order Completed" and properties.total > 100'
        action: reportWebEvent
        mapping:
          event: PlaceAnOrder
          value: {"@path": "$.properties.total"}
          contents:
            "@arrayPath": ["$.properties.products", {price: {"@path": "$.price"}}]
        merge_defaults: true
    sources: [app]
    batch:
      max_events: 500
      linger: 1s
    flow:
      max_requests_per_second: 50.5
      max_events_per_second: 10000
      initial_concurrency: 2
      min_concurrency: 1
      max_concurrency: 8
      backoff_base: 100ms
      backoff_cap: 1m
      retry_budget: 10%
      connect_timeout: 2s
      request_timeout: 20s
      breaker_failure_threshold: 3
      breaker_probe_interval: 10s
      paused_probe_interval: 2m
    max_event_age: 3d
    canary:
      enabled: true
      interval: 5m
)");
  ASSERT_TRUE(config) << config.error().message;
  const DestinationConfig& d = config->destinations[0];
  EXPECT_FALSE(d.enabled);
  EXPECT_EQ(d.settings.apiUrl, "http://127.0.0.1:9090/open_api/v1.3/event/track/");
  EXPECT_EQ(d.settings.testEventCode, "TEST123");
  EXPECT_EQ(d.settings.partnerName, "Acme");
  EXPECT_EQ(d.settings.phoneDefaultRegion, "GB");
  EXPECT_EQ(d.presets, (std::vector<std::string>{"Search", "Add to Cart"}));
  ASSERT_EQ(d.subscriptions.size(), 1u);
  const SubscriptionConfig& s = d.subscriptions[0];
  EXPECT_EQ(s.name, "Big orders");
  EXPECT_EQ(s.trigger, R"(event = "Order Completed" and properties.total > 100)");
  EXPECT_EQ(s.action, "reportWebEvent");
  EXPECT_EQ(s.mappingJson,
            R"({"event":"PlaceAnOrder","value":{"@path":"$.properties.total"},)"
            R"("contents":{"@arrayPath":["$.properties.products",{"price":{"@path":"$.price"}}]}})");
  EXPECT_TRUE(s.mergeDefaults);
  EXPECT_EQ(s.position.toString(), "sluice.yaml:19:9");
  EXPECT_EQ(s.triggerPosition.toString(), "sluice.yaml:20:19");  // inside the quote
  EXPECT_EQ(s.mappingPosition.toString(), "sluice.yaml:23:11");
  EXPECT_EQ(d.sources, std::vector<std::string>{"app"});
  EXPECT_EQ(d.batch.maxEvents, 500);
  EXPECT_EQ(d.batch.lingerMs, 1000);
  EXPECT_DOUBLE_EQ(d.flow.maxRequestsPerSecond, 50.5);
  EXPECT_DOUBLE_EQ(d.flow.maxEventsPerSecond, 10000);
  EXPECT_EQ(d.flow.initialConcurrency, 2);
  EXPECT_EQ(d.flow.minConcurrency, 1);
  EXPECT_EQ(d.flow.maxConcurrency, 8);
  EXPECT_EQ(d.flow.backoffBaseMs, 100);
  EXPECT_EQ(d.flow.backoffCapMs, 60'000);
  EXPECT_DOUBLE_EQ(d.flow.retryBudgetRatio, 0.1);
  EXPECT_EQ(d.flow.connectTimeoutMs, 2'000);
  EXPECT_EQ(d.flow.requestTimeoutMs, 20'000);
  EXPECT_EQ(d.flow.breakerFailureThreshold, 3);
  EXPECT_EQ(d.flow.breakerProbeIntervalMs, 10'000);
  EXPECT_EQ(d.flow.pausedProbeIntervalMs, 120'000);
  EXPECT_EQ(d.maxEventAgeMs, 3LL * 86'400'000);
  EXPECT_TRUE(d.canaryEnabled);
  EXPECT_EQ(d.canaryIntervalMs, 300'000);
}

TEST(ConfigTest, MappingScalarsBecomeJsonTypes) {
  const auto config = parse(std::string(kDestination) + R"(    subscriptions:
      - name: s
        mapping:
          a: 12
          b: "12"
          c: 1.50
          d: true
          e: "true"
          f: ~
          g: 0x1F
          h: +3
          i: .5
          j: "line\nbreak \"q\""
          k: [x, 2, null]
          l: {}
          "@template": "{{properties.a}}"
          m: 1e3
          n: -0
          o: !!str 7
)",
                            {{"TOKEN", "t"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->destinations[0].subscriptions[0].mappingJson,
            R"({"a":12,"b":"12","c":1.50,"d":true,"e":"true","f":null,"g":31,"h":3,"i":0.5,)"
            R"("j":"line\nbreak \"q\"","k":["x",2,null],"l":{},"@template":"{{properties.a}}",)"
            R"("m":1e3,"n":-0,"o":"7"})");
}

TEST(ConfigTest, MappingAsJsonText) {
  const auto config = parse(std::string(kDestination) + R"(    subscriptions:
      - name: pasted
        trigger: |
          type = "track"
        mapping: |
          {"event": "Search", "query": {"@path": "$.properties.query"}, "event": "x"}
      - name: pasted2
        mapping: '{"z": 1, "a": [true]}'
)",
                            {{"TOKEN", "t"}});
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message, HasSubstr("subscriptions[0].mapping: duplicate key 'event'"));

  const auto ok = parse(std::string(kDestination) + R"(    subscriptions:
      - name: pasted
        trigger: |
          type = "track"
        mapping: |
          {"event": "Search", "query": {"@path": "$.properties.query"}}
      - name: pasted2
        mapping: '{"z": 1, "a": [true]}'
)",
                        {{"TOKEN", "t"}});
  ASSERT_TRUE(ok) << ok.error().message;
  const auto& subs = ok->destinations[0].subscriptions;
  EXPECT_EQ(subs[0].trigger, "type = \"track\"\n");
  EXPECT_EQ(subs[0].triggerPosition.toString(), "sluice.yaml:15:11");
  EXPECT_EQ(subs[0].mappingJson, R"({"event":"Search","query":{"@path":"$.properties.query"}})");
  EXPECT_EQ(subs[0].mappingPosition.toString(), "sluice.yaml:17:11");
  EXPECT_EQ(subs[1].mappingJson, R"({"z":1,"a":[true]})");
  EXPECT_EQ(subs[1].mappingPosition.toString(), "sluice.yaml:19:19");
  EXPECT_EQ(subs[1].trigger, "");
}

TEST(ConfigTest, MappingErrors) {
  const std::string base = std::string(kDestination) + "    subscriptions:\n      - name: s\n";
  EXPECT_THAT(errorOf(base + "        mapping: 5\n", {{"TOKEN", "t"}}),
              HasSubstr("sluice.yaml:14:18: destinations[0].subscriptions[0].mapping: expected an "
                        "object of field mappings"));
  EXPECT_THAT(errorOf(base + "        mapping: '{\"a\": [1,'\n", {{"TOKEN", "t"}}),
              HasSubstr("sluice.yaml:14:18: destinations[0].subscriptions[0].mapping: the mapping "
                        "text is not valid JSON"));
  EXPECT_THAT(errorOf(base + "        mapping: {a: .inf}\n", {{"TOKEN", "t"}}),
              HasSubstr("sluice.yaml:14:22: destinations[0].subscriptions[0].mapping.a: '.inf' "
                        "cannot be written in JSON"));
  EXPECT_THAT(errorOf(base + "        mapping: {a: !custom 1}\n", {{"TOKEN", "t"}}),
              HasSubstr("unsupported YAML tag '!custom'"));
}

TEST(ConfigTest, DestinationRequiredValues) {
  const std::string message = errorOf(R"(sources:
  - name: web
    write_key: wk
destinations:
  - name: a
    settings:
      pixel_code: P
  - type: tiktok-conversions
    settings:
      access_token: ""
      pixel_code: P
  - name: c
    type: tiktok-conversions
)");
  EXPECT_THAT(message, HasSubstr("sluice.yaml:5:5: destinations[0].type: required "
                                 "('tiktok-conversions')"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:7:7: destinations[0].settings.access_token: required"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:8:5: destinations[1].name: required"));
  EXPECT_THAT(message,
              HasSubstr("sluice.yaml:10:21: destinations[1].settings.access_token: required (it is "
                        "empty)"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:12:5: destinations[2].settings: required"));
}

TEST(ConfigTest, DestinationValueErrors) {
  const std::string message = errorOf(R"(sources:
  - name: web
    write_key: wk
destinations:
  - name: tiktok
    type: facebook
    enabled: yes
    settings:
      access_token: tok
      pixel_code: P
      api_url: ftp://example.com/
      phone_default_region: USA
    presets: [Serch, all, Search, Search]
    sources: [web, webb, web]
    batch: {max_events: 1001, linger: 2m}
    flow:
      min_concurrency: 10
      max_concurrency: 5
      backoff_base: 2s
      backoff_cap: 1s
      retry_budget: 1.5
      max_requests_per_second: 0
    canary: {interval: 10ms}
  - name: tiktok
    type: tiktok-conversions
    settings: {access_token: x, pixel_code: y}
)");
  const std::vector<std::string> expected = {
      "sluice.yaml:6:11: destinations[0].type: unknown destination type; the only type is "
      "'tiktok-conversions' (got 'facebook')",
      "sluice.yaml:7:14: destinations[0].enabled: expected true or false (got 'yes')",
      "sluice.yaml:11:16: destinations[0].settings.api_url: expected an http:// or https:// URL "
      "(got 'ftp://example.com/')",
      "sluice.yaml:12:29: destinations[0].settings.phone_default_region: expected a two-letter ISO "
      "3166 region code such as US (got 'USA')",
      "sluice.yaml:13:15: destinations[0].presets[0]: unknown preset 'Serch' (did you mean "
      "'Search'?); the presets are 'Add to Cart', 'Place an Order', 'Search', 'Initiate Checkout', "
      "'Add Payment Info', 'Add to Wishlist' or 'View Content'",
      "sluice.yaml:13:22: destinations[0].presets[1]: unknown preset 'all' (write `presets: all` "
      "without a list); the presets are 'Add to Cart', 'Place an Order', 'Search', 'Initiate "
      "Checkout', 'Add Payment Info', 'Add to Wishlist' or 'View Content'",
      "sluice.yaml:13:35: destinations[0].presets[3]: preset 'Search' is listed twice",
      "sluice.yaml:14:20: destinations[0].sources[1]: unknown source 'webb' (did you mean 'web'?)",
      "sluice.yaml:14:26: destinations[0].sources[2]: source 'web' is listed twice",
      "sluice.yaml:15:25: destinations[0].batch.max_events: must be from 1 to 1000 (got '1001')",
      "sluice.yaml:15:39: destinations[0].batch.linger: must be from 0 to 1m (got '2m')",
      "sluice.yaml:17:7: destinations[0].flow: min_concurrency (10) is above max_concurrency (5)",
      "sluice.yaml:17:7: destinations[0].flow: backoff_cap (1s) is below backoff_base (2s)",
      "sluice.yaml:21:21: destinations[0].flow.retry_budget: expected a share from 0 to 1, or a "
      "percentage from 0% to 100% (got '1.5')",
      "sluice.yaml:22:32: destinations[0].flow.max_requests_per_second: must be from 0.001 to "
      "1000000 (got '0')",
      "sluice.yaml:23:24: destinations[0].canary.interval: must be from 1s to 1d (got '10ms')",
      "sluice.yaml:24:11: destinations[1].name: duplicate destination name 'tiktok' (also at line "
      "5)",
  };
  std::string joined;
  for (const auto& line : expected) joined += (joined.empty() ? "" : "\n") + line;
  EXPECT_EQ(message, joined);
}

TEST(ConfigTest, PresetsAllNoneAndSubscriptionNames) {
  auto config = parse(std::string(kDestination) + "    presets: none\n", {{"TOKEN", "t"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->destinations[0].presets, std::vector<std::string>{"none"});
  config = parse(std::string(kDestination) + "    presets: []\n", {{"TOKEN", "t"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->destinations[0].presets, std::vector<std::string>{"none"});
  EXPECT_THAT(errorOf(std::string(kDestination) + "    presets: some\n", {{"TOKEN", "t"}}),
              HasSubstr("sluice.yaml:12:14: destinations[0].presets: expected 'all', 'none' or a "
                        "list of preset names (got 'some')"));

  const std::string subs = std::string(kDestination) + R"(    subscriptions:
      - name: Search
      - name: mine
        action: reportAppEvent
      - name: mine
)";
  const std::string message = errorOf(subs, {{"TOKEN", "t"}});
  EXPECT_THAT(message, HasSubstr("sluice.yaml:13:15: destinations[0].subscriptions[0].name: "
                                 "'Search' is the name of an enabled preset"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:15:17: destinations[0].subscriptions[1].action: the "
                                 "only action is 'reportWebEvent' (got 'reportAppEvent')"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:16:15: destinations[0].subscriptions[2].name: "
                                 "duplicate subscription name 'mine' (also at line 14)"));
  // With presets: none the same name is allowed.
  EXPECT_TRUE(parse(std::string(kDestination) +
                        "    presets: none\n    subscriptions:\n      - name: Search\n",
                    {{"TOKEN", "t"}}));
}

TEST(ConfigTest, AtMostFiftyPresetsAndSubscriptions) {
  auto build = [](int subscriptions) {
    std::string text = std::string(kDestination) + "    subscriptions:\n";
    for (int i = 0; i < subscriptions; ++i) {
      text += "      - name: s" + std::to_string(i) + "\n";
    }
    return text;
  };
  EXPECT_TRUE(parse(build(43), {{"TOKEN", "t"}}));  // 7 presets (all) + 43
  EXPECT_EQ(errorOf(build(44), {{"TOKEN", "t"}}),
            "sluice.yaml:12:5: destinations[0]: 7 presets and 44 subscriptions; at most 50 in all "
            "per destination");
}

TEST(ConfigTest, SecretsNeverInMessages) {
  const std::string message = errorOf(R"(server:
  admin_token: "adm secret"
sources:
  - name: web
    write_key: "wk secret"
destinations:
  - name: t
    type: tiktok-conversions
    settings:
      access_token: "tok secret"
      pixel_code: P
)");
  EXPECT_THAT(message, HasSubstr("server.admin_token: must not contain white space"));
  EXPECT_THAT(message, HasSubstr("sources[0].write_key: must not contain white space"));
  EXPECT_THAT(message, HasSubstr("settings.access_token: must not contain white space"));
  EXPECT_THAT(message, Not(HasSubstr("secret")));
}

TEST(ConfigTest, RetryBudgetForms) {
  for (const auto& [text, ratio] : std::vector<std::pair<std::string, double>>{
           {"0.25", 0.25}, {"25%", 0.25}, {"0", 0.0}, {"100%", 1.0}}) {
    const auto config = parse(std::string(kDestination) + "    flow: {retry_budget: \"" + text +
                                  "\"}\n",
                              {{"TOKEN", "t"}});
    ASSERT_TRUE(config) << text << ": " << config.error().message;
    EXPECT_DOUBLE_EQ(config->destinations[0].flow.retryBudgetRatio, ratio) << text;
  }
}

TEST(ConfigTest, ByteSizes) {
  for (const auto& [text, bytes] : std::vector<std::pair<std::string, uint64_t>>{
           {"0", 0}, {"1234", 1234}, {"512MB", 512'000'000}, {"512MiB", 512ull << 20},
           {"1.5GiB", 3ull << 29}, {"2 kb", 2000}, {"1TB", 1'000'000'000'000ull}}) {
    const auto config = parse("storage:\n  min_free_space: " + text + "\n" + std::string(kMinimal));
    ASSERT_TRUE(config) << text << ": " << config.error().message;
    EXPECT_EQ(config->storage.minFreeBytes, bytes) << text;
  }
}

TEST(ConfigTest, JsonInput) {
  const auto config = parse(R"({
  "server": {"listen": "127.0.0.1:8181", "threads": 2},
  "sources": [{"name": "web", "write_key": "${K}"}],
  "destinations": [{
    "name": "tiktok", "type": "tiktok-conversions",
    "settings": {"access_token": "tok", "pixel_code": "P1"},
    "presets": "none",
    "subscriptions": [{"name": "all tracks", "trigger": "type = \"track\"",
                       "mapping": {"event": "CompletePayment", "value": {"@path": "$.properties.v"}},
                       "merge_defaults": true}],
    "batch": {"max_events": 10}
  }]
})",
                            {{"K", "key"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server.listenPort, 8181);
  EXPECT_EQ(config->sources[0].writeKey, "key");
  const auto& s = config->destinations[0].subscriptions[0];
  EXPECT_EQ(s.trigger, "type = \"track\"");
  EXPECT_EQ(s.triggerPosition.toString(), "sluice.yaml:8:58");
  EXPECT_EQ(s.mappingJson, R"({"event":"CompletePayment","value":{"@path":"$.properties.v"}})");
  EXPECT_TRUE(s.mergeDefaults);
  EXPECT_EQ(config->destinations[0].batch.maxEvents, 10);

  EXPECT_THAT(errorOf(R"({"sources": [{"name": "web", "write_key": "k", "extra": 1}]})"),
              HasSubstr("sluice.yaml:1:48: sources[0]: unknown key 'extra'"));
}

TEST(ConfigTest, SyntaxErrorsHavePositions) {
  EXPECT_EQ(errorOf("sources:\n  - name: [web\n"),
            "sluice.yaml:3:1: not valid YAML: end of sequence flow not found");
}

TEST(ConfigTest, LineEndingsByteOrderMarkAndDocuments) {
  auto config = parse("sources:\r\n  - name: web\r\n    write_key: k\r\n");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->sources[0].writeKey, "k");
  config = parse("\xEF\xBB\xBF" + std::string(kMinimal));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(parse(std::string(kMinimal) + "---\n"));
  // yaml-cpp's LoadAll() loops forever on this; the loader must not.
  EXPECT_EQ(errorOf(",server:\n" + std::string(kMinimal)),
            "sluice.yaml:1:1: not valid YAML: no configuration could be read from this text");
  EXPECT_EQ(errorOf("# only a comment\n---\n...\n"),
            "sluice.yaml: sources: at least one source is required");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "---\nserver: {}\n"),
            "sluice.yaml:4:1: top level: only one YAML document per file (a second one follows "
            "'---')");
}

// ---- masked summary

TEST(ConfigTest, MaskedSummaryHidesSecretsAndLoadsBack) {
  const std::string text = R"(server:
  admin_token: adm-SECRET-1
  trusted_proxies: ["10.0.0.0/8"]
sources:
  - name: web
    write_key: wk-SECRET-2
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings:
      access_token: tok-SECRET-3
      pixel_code: CABC
      phone_default_region: US
      test_event_code: TEST42
    presets: [Search]
    subscriptions:
      - name: s1
        trigger: 'event = "A"'
        mapping: {event: Search, value: 1.5, list: [1, "two"]}
    sources: [web]
    flow: {retry_budget: 0.3, max_events_per_second: 123456.5}
    canary: {enabled: true, interval: 90s}
)";
  const auto config = parse(text);
  ASSERT_TRUE(config) << config.error().message;
  const std::string summary = maskedSummary(*config);
  EXPECT_THAT(summary, Not(HasSubstr("SECRET")));
  EXPECT_THAT(summary, HasSubstr(R"("write_key": "***")"));
  EXPECT_THAT(summary, HasSubstr(R"("access_token": "***")"));
  EXPECT_THAT(summary, HasSubstr(R"("admin_token": "***")"));
  EXPECT_THAT(summary, HasSubstr(R"("listen": "127.0.0.1:8080")"));
  EXPECT_THAT(summary, HasSubstr(R"("min_free_space": "512MiB")"));
  EXPECT_THAT(summary, HasSubstr(R"("retention": "1w")"));

  // The summary is itself a valid configuration equal to the original apart from secrets.
  const auto again = parse(summary);
  ASSERT_TRUE(again) << again.error().message << "\n" << summary;
  EXPECT_EQ(maskedSummary(*again), summary);
  EXPECT_EQ(again->sources[0].writeKey, "***");
  const auto& a = config->destinations[0];
  const auto& b = again->destinations[0];
  EXPECT_EQ(b.presets, a.presets);
  EXPECT_EQ(b.subscriptions[0].trigger, a.subscriptions[0].trigger);
  EXPECT_EQ(b.subscriptions[0].mappingJson, a.subscriptions[0].mappingJson);
  EXPECT_EQ(b.sources, a.sources);
  EXPECT_DOUBLE_EQ(b.flow.retryBudgetRatio, 0.3);
  EXPECT_DOUBLE_EQ(b.flow.maxEventsPerSecond, 123456.5);
  EXPECT_EQ(b.canaryIntervalMs, 90'000);
  EXPECT_EQ(b.settings.phoneDefaultRegion, "US");
  EXPECT_EQ(again->server.trustedProxies, config->server.trustedProxies);
}

// ---- incidents and canary

TEST(ConfigTest, IncidentsSectionDefaultsAndKeys) {
  const auto defaults = parse(kMinimal);
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->incidents.sampleIntervalMs, 5'000);
  EXPECT_EQ(defaults->incidents.backlogAgeThresholdMs, 300'000);
  EXPECT_EQ(defaults->incidents.drainedAgeMs, 30'000);
  EXPECT_EQ(defaults->incidents.openAfter, 2);
  EXPECT_EQ(defaults->incidents.closeAfter, 2);

  const auto config = parse(std::string(kMinimal) + R"(incidents:
  sample_interval: 250ms
  backlog_age_threshold: 2m
  drained_age: 0
  open_after: 3
  close_after: 4
)");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->incidents.sampleIntervalMs, 250);
  EXPECT_EQ(config->incidents.backlogAgeThresholdMs, 120'000);
  EXPECT_EQ(config->incidents.drainedAgeMs, 0);
  EXPECT_EQ(config->incidents.openAfter, 3);
  EXPECT_EQ(config->incidents.closeAfter, 4);
  // The masked summary carries the section and loads back to the same values.
  const auto again = parse(maskedSummary(*config));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->incidents.sampleIntervalMs, 250);
  EXPECT_EQ(again->incidents.drainedAgeMs, 0);
  EXPECT_EQ(again->incidents.closeAfter, 4);

  const std::string message = errorOf(std::string(kMinimal) + R"(incidents:
  sample_interval: 1ms
  open_after: 0
  close_afer: 2
)");
  EXPECT_THAT(message, HasSubstr("sluice.yaml:5:20: incidents.sample_interval: must be from 10ms "
                                 "to 10m (got '1ms')"));
  EXPECT_THAT(message,
              HasSubstr("sluice.yaml:6:15: incidents.open_after: must be from 1 to 1000 (got '0')"));
  EXPECT_THAT(message, HasSubstr("sluice.yaml:7:3: incidents: unknown key 'close_afer' (did you "
                                 "mean 'close_after'?)"));
}

TEST(ConfigTest, CanaryRequiresATestEventCode) {
  const std::string message = errorOf(R"(sources:
  - name: web
    write_key: k
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings: {access_token: t, pixel_code: P}
    canary:
      enabled: true
)");
  EXPECT_EQ(message,
            "sluice.yaml:9:16: destinations[0].canary.enabled: the canary needs "
            "settings.test_event_code (so that TikTok treats it as a test event, never as a "
            "conversion)");
  const auto config = parse(R"(sources:
  - name: web
    write_key: k
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings: {access_token: t, pixel_code: P, test_event_code: TEST1}
    canary: {enabled: true, interval: 30s}
  - name: other
    type: tiktok-conversions
    settings: {access_token: t, pixel_code: P}
    canary: {enabled: false}
)");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(config->destinations[0].canaryEnabled);
  EXPECT_EQ(config->destinations[0].canaryIntervalMs, 30'000);
  EXPECT_FALSE(config->destinations[1].canaryEnabled);
}

TEST(ConfigTest, Formatters) {
  EXPECT_EQ(formatDurationMs(0), "0");
  EXPECT_EQ(formatDurationMs(250), "250ms");
  EXPECT_EQ(formatDurationMs(1500), "1500ms");
  EXPECT_EQ(formatDurationMs(90'000), "90s");
  EXPECT_EQ(formatDurationMs(3'600'000), "1h");
  EXPECT_EQ(formatDurationMs(7LL * 86'400'000), "1w");
  EXPECT_EQ(formatDurationMs(86'400'000), "1d");
  EXPECT_EQ(formatBytes(0), "0");
  EXPECT_EQ(formatBytes(512ull << 20), "512MiB");
  EXPECT_EQ(formatBytes(2'000'000), "2MB");
  EXPECT_EQ(formatBytes(1001), "1001");
  ServerConfig server;
  server.listenHost = "::1";
  server.listenPort = 81;
  EXPECT_EQ(formatListen(server), "[::1]:81");
  EXPECT_EQ((Position{"f.yaml", 0, 0}.toString()), "f.yaml");
  EXPECT_EQ((Position{"f.yaml", 3, 4}.toString()), "f.yaml:3:4");
}

// ---- files

TEST(ConfigTest, LoadConfigReadsFilesAndReportsMissingOnes) {
  const auto missing = loadConfig("/nonexistent/sluice.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
  EXPECT_EQ(missing.error().message,
            "cannot read configuration file '/nonexistent/sluice.yaml': No such file or directory");

  const auto path = std::filesystem::temp_directory_path() /
                    ("sluice-config-load-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << "sources:\n  - name: web\n    write_key: k\n    extra: 1\n";
  const auto result = loadConfig(path.string());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, path.string() + ":4:5: sources[0]: unknown key 'extra'");
  std::filesystem::remove(path);
}

TEST(ConfigTest, ExamplesLoad) {
  const char* root = std::getenv("SLUICE_SOURCE_DIR");
  if (root == nullptr) root = SLUICE_SOURCE_DIR_FALLBACK;
  ParseOptions options;
  options.env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SLUICE_WRITE_KEY") return "example-write-key";
    return std::nullopt;  // everything else must have a default in the examples
  };
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(root) /
                                                                "examples")) {
    if (entry.path().extension() != ".yaml" && entry.path().extension() != ".json") continue;
    ++count;
    const auto config = loadConfig(entry.path().string(), options);
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->server.listenHost, "127.0.0.1") << entry.path();
    EXPECT_EQ(config->server.listenPort, 8080) << entry.path();
    EXPECT_NE(config->findSource("website"), nullptr) << entry.path();
  }
  EXPECT_GE(count, 2);
}

}  // namespace
}  // namespace sluice::config
