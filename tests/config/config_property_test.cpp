// Property tests with fixed seeds: random valid configurations load as written and survive the
// masked-summary round trip; random edits of a valid file never crash the loader, always give
// well-formed `file:line:column: path: problem` lines, and never leak a secret.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "config/config.h"

namespace sluice::config {
namespace {

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool coin() { return between(0, 1) == 1; }
  std::string name(const std::string& prefix) {
    return prefix + std::to_string(between(0, 999)) + (coin() ? "-x" : "_y.z");
  }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[static_cast<size_t>(between(0, static_cast<int>(items.size()) - 1))];
  }
  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
};

std::map<std::string, std::string> kEnv = {{"WRITE_KEY", "env-write-key-S3CR3T"},
                                           {"TOKEN", "env-token-S3CR3T"},
                                           {"ADMIN", "env-admin-S3CR3T"}};

ParseOptions fixedEnv() {
  ParseOptions options;
  options.env = [](const std::string& name) -> std::optional<std::string> {
    const auto it = kEnv.find(name);
    if (it == kEnv.end()) return std::nullopt;
    return it->second;
  };
  return options;
}

// A random valid configuration, as YAML text, and the values it must load as.
struct Generated {
  std::string yaml;
  Config expected;
};

Generated generate(Gen& g) {
  Generated out;
  Config& c = out.expected;
  std::ostringstream y;
  const std::vector<std::pair<std::string, int64_t>> durations = {
      {"250ms", 250}, {"2s", 2'000}, {"1m30s", 90'000}, {"1.5h", 5'400'000}, {"3d", 259'200'000}};
  y << "server:\n";
  c.server.listenPort = static_cast<uint16_t>(g.between(1, 65535));
  c.server.listenHost = g.pick(std::vector<std::string>{"127.0.0.1", "::1", "localhost"});
  y << "  listen: \"" << (c.server.listenHost == "::1" ? "[::1]" : c.server.listenHost) << ":"
    << c.server.listenPort << "\"\n";
  c.server.threads = g.between(0, 64);
  y << "  threads: " << c.server.threads << "\n";
  if (g.coin()) {
    c.server.adminToken = kEnv["ADMIN"];
    y << "  admin_token: ${ADMIN}\n";
  }
  y << "storage:\n";
  const auto retention = g.pick(std::vector<std::pair<std::string, int64_t>>{
      {"7d", 604'800'000}, {"36h", 129'600'000}, {"2w", 1'209'600'000}});
  c.storage.retentionMs = retention.second;
  y << "  retention: " << retention.first << "\n";
  const auto space = g.pick(std::vector<std::pair<std::string, uint64_t>>{
      {"1GiB", 1ull << 30}, {"750MB", 750'000'000}, {"123456", 123456}});
  c.storage.minFreeBytes = space.second;
  y << "  min_free_space: " << space.first << "\n";
  y << "sources:\n";
  const int sourceCount = g.between(1, 4);
  for (int i = 0; i < sourceCount; ++i) {
    SourceConfig s;
    s.name = "src" + std::to_string(i) + g.name("");
    s.writeKey = i == 0 ? kEnv["WRITE_KEY"] : "literal-key-" + std::to_string(i);
    y << "  - name: " << s.name << "\n    write_key: "
      << (i == 0 ? std::string("${WRITE_KEY}") : s.writeKey) << "\n";
    c.sources.push_back(s);
  }
  const int destinationCount = g.between(0, 3);
  if (destinationCount > 0) y << "destinations:\n";
  for (int i = 0; i < destinationCount; ++i) {
    DestinationConfig d;
    d.name = "dst" + std::to_string(i) + g.name("");
    d.type = "tiktok-conversions";
    d.enabled = g.coin();
    d.settings.accessToken = kEnv["TOKEN"];
    d.settings.pixelCode = "PIX" + std::to_string(g.between(0, 99999));
    y << "  - name: " << d.name << "\n    type: tiktok-conversions\n    enabled: "
      << (d.enabled ? "true" : "false") << "\n    settings:\n      access_token: ${TOKEN}\n"
      << "      pixel_code: " << d.settings.pixelCode << "\n";
    if (g.coin()) {
      d.settings.testEventCode = "TEST" + std::to_string(g.between(0, 99));
      y << "      test_event_code: " << d.settings.testEventCode << "\n";
    }
    const int presetMode = g.between(0, 2);
    if (presetMode == 0) {
      d.presets = {"none"};
      y << "    presets: none\n";
    } else if (presetMode == 1) {
      d.presets.clear();
      y << "    presets:\n";
      for (const auto& p : knownPresetNames()) {
        if (g.coin()) {
          d.presets.push_back(p);
          y << "      - " << p << "\n";
        }
      }
      if (d.presets.empty()) {
        d.presets = {knownPresetNames()[0]};
        y << "      - " << knownPresetNames()[0] << "\n";
      }
    }  // else default "all"
    const int subscriptionCount = g.between(0, 3);
    if (subscriptionCount > 0) y << "    subscriptions:\n";
    for (int k = 0; k < subscriptionCount; ++k) {
      SubscriptionConfig s;
      s.name = "sub " + std::to_string(k);
      s.trigger = "event = \"E" + std::to_string(g.between(0, 9)) + "\"";
      s.mergeDefaults = g.coin();
      const int value = g.between(-5, 500);
      s.mappingJson = "{\"event\":\"Search\",\"value\":" + std::to_string(value) +
                      ",\"query\":{\"@path\":\"$.properties.q\"},\"tags\":[\"a\",true,null]}";
      y << "      - name: " << s.name << "\n        trigger: '" << s.trigger << "'\n"
        << "        mapping:\n          event: Search\n          value: " << value
        << "\n          query: {\"@path\": \"$.properties.q\"}\n          tags: [a, true, ~]\n"
        << "        merge_defaults: " << (s.mergeDefaults ? "true" : "false") << "\n";
      d.subscriptions.push_back(s);
    }
    if (g.coin()) {
      d.sources = {c.sources[0].name};
      y << "    sources: [" << c.sources[0].name << "]\n";
    }
    d.batch.maxEvents = g.between(1, 1000);
    const auto linger = g.pick(std::vector<std::pair<std::string, int64_t>>{
        {"0", 0}, {"250ms", 250}, {"2s", 2'000}, {"1m", 60'000}});
    d.batch.lingerMs = linger.second;
    y << "    batch:\n      max_events: " << d.batch.maxEvents << "\n      linger: " << linger.first
      << "\n";
    d.flow.maxConcurrency = g.between(4, 100);
    d.flow.initialConcurrency = g.between(1, 4);
    d.flow.retryBudgetRatio = g.between(0, 100) / 100.0;
    d.flow.maxRequestsPerSecond = g.between(1, 10'000) / 4.0;
    y << "    flow:\n      max_concurrency: " << d.flow.maxConcurrency
      << "\n      initial_concurrency: " << d.flow.initialConcurrency
      << "\n      retry_budget: " << d.flow.retryBudgetRatio
      << "\n      max_requests_per_second: " << d.flow.maxRequestsPerSecond << "\n";
    const auto& age = g.pick(durations);
    if (age.second >= 60'000) {
      d.maxEventAgeMs = age.second;
      y << "    max_event_age: " << age.first << "\n";
    }
    c.destinations.push_back(d);
  }
  out.yaml = y.str();
  return out;
}

void expectSameConfig(const Config& a, const Config& b, bool secrets) {
  EXPECT_EQ(a.server.listenHost, b.server.listenHost);
  EXPECT_EQ(a.server.listenPort, b.server.listenPort);
  EXPECT_EQ(a.server.threads, b.server.threads);
  if (secrets) {
    EXPECT_EQ(a.server.adminToken, b.server.adminToken);
  }
  EXPECT_EQ(a.storage.retentionMs, b.storage.retentionMs);
  EXPECT_EQ(a.storage.minFreeBytes, b.storage.minFreeBytes);
  ASSERT_EQ(a.sources.size(), b.sources.size());
  for (size_t i = 0; i < a.sources.size(); ++i) {
    EXPECT_EQ(a.sources[i].name, b.sources[i].name);
    if (secrets) {
    EXPECT_EQ(a.sources[i].writeKey, b.sources[i].writeKey);
  }
  }
  ASSERT_EQ(a.destinations.size(), b.destinations.size());
  for (size_t i = 0; i < a.destinations.size(); ++i) {
    const auto& x = a.destinations[i];
    const auto& y = b.destinations[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.enabled, y.enabled);
    if (secrets) {
    EXPECT_EQ(x.settings.accessToken, y.settings.accessToken);
  }
    EXPECT_EQ(x.settings.pixelCode, y.settings.pixelCode);
    EXPECT_EQ(x.settings.testEventCode, y.settings.testEventCode);
    EXPECT_EQ(x.presets, y.presets);
    ASSERT_EQ(x.subscriptions.size(), y.subscriptions.size());
    for (size_t k = 0; k < x.subscriptions.size(); ++k) {
      EXPECT_EQ(x.subscriptions[k].name, y.subscriptions[k].name);
      EXPECT_EQ(x.subscriptions[k].trigger, y.subscriptions[k].trigger);
      EXPECT_EQ(x.subscriptions[k].mappingJson, y.subscriptions[k].mappingJson);
      EXPECT_EQ(x.subscriptions[k].mergeDefaults, y.subscriptions[k].mergeDefaults);
    }
    EXPECT_EQ(x.sources, y.sources);
    EXPECT_EQ(x.batch.maxEvents, y.batch.maxEvents);
    EXPECT_EQ(x.batch.lingerMs, y.batch.lingerMs);
    EXPECT_EQ(x.flow.maxConcurrency, y.flow.maxConcurrency);
    EXPECT_EQ(x.flow.initialConcurrency, y.flow.initialConcurrency);
    EXPECT_DOUBLE_EQ(x.flow.retryBudgetRatio, y.flow.retryBudgetRatio);
    EXPECT_DOUBLE_EQ(x.flow.maxRequestsPerSecond, y.flow.maxRequestsPerSecond);
    EXPECT_EQ(x.maxEventAgeMs, y.maxEventAgeMs);
  }
}

TEST(ConfigPropertyTest, RandomValidConfigsLoadAndRoundTrip) {
  Gen g(20261122);
  for (int iteration = 0; iteration < 300; ++iteration) {
    const Generated generated = generate(g);
    SCOPED_TRACE(generated.yaml);
    const auto loaded = parseConfig(generated.yaml, "gen.yaml", fixedEnv());
    ASSERT_TRUE(loaded) << loaded.error().message;
    expectSameConfig(generated.expected, *loaded, /*secrets=*/true);

    const std::string summary = maskedSummary(*loaded);
    EXPECT_EQ(summary.find("S3CR3T"), std::string::npos);
    // Write keys must differ, so give each masked secret its own value before loading again.
    std::string unmasked = summary;
    int secrets = 0;
    for (size_t at; (at = unmasked.find("\"***\"")) != std::string::npos;) {
      unmasked.replace(at, 5, "\"masked-" + std::to_string(++secrets) + "\"");
    }
    const auto again = parseConfig(unmasked, "summary.json", fixedEnv());
    ASSERT_TRUE(again) << again.error().message << "\n" << summary;
    expectSameConfig(*loaded, *again, /*secrets=*/false);
    EXPECT_EQ(maskedSummary(*again), summary);
  }
}

// Random edits of a valid file: no crash; every problem line is well formed and inside the file;
// secrets (only reachable through ${...}) never appear.
TEST(ConfigPropertyTest, RandomEditsGiveWellFormedErrorsWithoutSecrets) {
  Gen g(4242);
  const std::regex line(R"(^mut\.yaml(:(\d+):(\d+))?: (top level|server|storage|logging|sources|destinations)[^\n]*?: .+$|)"
                        R"(^mut\.yaml: \.\.\. and \d+ more problems$)");
  const std::regex syntax(R"(^mut\.yaml:\d+:\d+: not valid YAML: .+$)");
  const std::string alphabet = " :-[]{}\"'#\n\t$,&*!|>%@`abc01.";
  const int last = static_cast<int>(alphabet.size()) - 1;
  int failures = 0;
  for (int iteration = 0; iteration < 1500; ++iteration) {
    std::string text = generate(g).yaml;
    const int edits = g.between(1, 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t at = static_cast<size_t>(g.between(0, static_cast<int>(text.size()) - 1));
      switch (g.between(0, 3)) {
        case 0: text.erase(at, static_cast<size_t>(g.between(1, 8))); break;
        case 1: text.insert(at, 1, alphabet[static_cast<size_t>(g.between(0, last))]); break;
        case 2: text[at] = alphabet[static_cast<size_t>(g.between(0, last))]; break;
        default: {  // duplicate a line elsewhere
          const size_t start = text.rfind('\n', at);
          const size_t end = text.find('\n', at);
          const std::string copied = text.substr(start == std::string::npos ? 0 : start + 1,
                                                 end == std::string::npos ? std::string::npos
                                                                          : end - start);
          text.insert(static_cast<size_t>(g.between(0, static_cast<int>(text.size()))), copied);
        }
      }
    }
    const auto result = parseConfig(text, "mut.yaml", fixedEnv());
    if (result) {
      EXPECT_EQ(maskedSummary(*result).find("S3CR3T"), std::string::npos);
      continue;
    }
    ++failures;
    const std::string& message = result.error().message;
    ASSERT_EQ(message.find("S3CR3T"), std::string::npos) << text << "\n" << message;
    const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
    std::istringstream in(message);
    std::string problem;
    while (std::getline(in, problem)) {
      std::smatch m;
      const bool ok = std::regex_match(problem, m, line) || std::regex_match(problem, syntax);
      ASSERT_TRUE(ok) << "malformed problem line: " << problem << "\nfor:\n" << text;
      if (m.size() > 2 && m[2].matched) {
        EXPECT_LE(std::stoi(m[2].str()), lines + 1) << problem;
        EXPECT_GE(std::stoi(m[3].str()), 1) << problem;
      }
    }
  }
  EXPECT_GT(failures, 300);  // the edits do break most files
}

}  // namespace
}  // namespace sluice::config
