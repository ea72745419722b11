// `sluice preview` end to end (the real binary, env SLUICE_BINARY) on a subset of the golden cases:
// every output line must carry exactly the body the Destination API builds for that case (which
// golden_test.cpp checks against Segment's output), or the same validation error.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/time.h"
#include "tiktok/destination.h"
#include "tiktok/golden_support.h"

namespace sluice::tiktok {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

std::string quoteYaml(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string yamlFor(const config::DestinationConfig& d) {
  std::ostringstream y;
  y << "sources:\n  - name: web\n    write_key: preview-test-key\n";
  y << "destinations:\n  - name: " << d.name << "\n    type: tiktok-conversions\n";
  y << "    settings:\n      access_token: " << quoteYaml(d.settings.accessToken)
    << "\n      pixel_code: " << quoteYaml(d.settings.pixelCode) << "\n";
  if (d.presets == std::vector<std::string>{"none"}) {
    y << "    presets: none\n";
  } else {
    y << "    presets:\n";
    for (const auto& p : d.presets) y << "      - " << quoteYaml(p) << "\n";
  }
  if (!d.subscriptions.empty()) y << "    subscriptions:\n";
  for (const auto& s : d.subscriptions) {
    y << "      - name: " << quoteYaml(s.name) << "\n";
    if (!s.trigger.empty()) y << "        trigger: " << quoteYaml(s.trigger) << "\n";
    y << "        action: reportWebEvent\n        mapping: " << quoteYaml(s.mappingJson) << "\n";
    if (s.mergeDefaults) y << "        merge_defaults: true\n";
  }
  return y.str();
}

struct Output {
  int status = -1;
  std::vector<std::string> lines;
};

Output runPreview(const std::vector<std::string>& args) {
  std::string command = std::getenv("SLUICE_BINARY");
  command += " preview";
  for (const auto& a : args) command += " '" + a + "'";
  command += " 2>/dev/null";
  Output out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, n);
  int raw = pclose(pipe);
  out.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) out.lines.push_back(line);
  return out;
}

class PreviewTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (std::getenv("SLUICE_BINARY") == nullptr || !fs::exists(std::getenv("SLUICE_BINARY"))) {
      GTEST_SKIP() << "SLUICE_BINARY not set";
    }
    dir_ = fs::temp_directory_path() /
           ("sluice-preview-" + std::to_string(::getpid()) + "-" + GetParam());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  fs::path dir_;
};

TEST_P(PreviewTest, SameBodiesAsTheDestinationApi) {
  testing::GoldenCase golden = testing::loadGoldenCase(GetParam());
  config::DestinationConfig config = testing::configForCase(golden);
  auto destination = Destination::create(config);
  ASSERT_TRUE(destination.has_value()) << destination.error().message;
  const json::value* nowValue = golden.input.if_contains("now");
  std::string now = nowValue ? std::string(nowValue->as_string()) : "2024-06-01T12:00:00.000Z";
  std::string eventText = json::serialize(golden.input.at("event"));

  std::string configPath = write("sluice.yaml", yamlFor(config));
  std::string eventsPath = write("events.jsonl", "\n" + eventText + "\n");
  Output out = runPreview({"--config", configPath, "--now", now, eventsPath});
  ASSERT_EQ(out.status, 0) << yamlFor(config);

  simdjson::dom::parser parser;
  simdjson::dom::element event = parser.parse(eventText);
  std::vector<size_t> matched = destination->match(event);
  ASSERT_EQ(out.lines.size(), matched.size());
  for (size_t i = 0; i < matched.size(); ++i) {
    json::object line = json::parse(out.lines[i]).as_object();
    EXPECT_EQ(line.at("index"), json::value(0));
    EXPECT_EQ(line.at("destination"), json::value("tiktok"));
    EXPECT_EQ(line.at("subscription").as_string(), destination->subscriptionName(matched[i]));
    auto result = destination->transform(event, matched[i], *parseIsoTime(now));
    if (result) {
      std::vector<TikTokEvent> one{*result};
      EXPECT_EQ(json::serialize(line.at("body")),
                json::serialize(json::parse(destination->buildBody(one))));
      EXPECT_NE(out.lines[i].find(destination->buildBody(one)), std::string::npos) << out.lines[i];
    } else {
      EXPECT_EQ(line.at("error").as_string(), result.error().message);
      EXPECT_FALSE(line.contains("body"));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Golden, PreviewTest,
    ::testing::Values("001_add_to_cart_basic", "006_place_an_order_products",
                      "010_complete_payment", "020_page_view_all_presets",
                      "026_no_match_all_presets", "032_email_uppercase_spaces_not_trimmed",
                      "043_phone_array_mixed", "055_ttclid_url_empty_param",
                      "059_custom_mapping_with_defaults_and_test_event_code",
                      "060_custom_mapping_directives",
                      "061_custom_mapping_no_trigger_missing_event",
                      "062_custom_mapping_contents_string_invalid", "066_vehicle_fields",
                      "072_price_not_numeric_validation_error", "073_products_with_null_fields",
                      "079_missing_timestamp_uses_now", "082_timestamp_epoch_number",
                      "093_fql_contains", "106_fql_parens"),
    [](const ::testing::TestParamInfo<std::string>& info) {
      return "c" + info.param.substr(0, 3);
    });

class PreviewInputTest : public PreviewTest {};

// The three input shapes give the same lines; unmatched events print nothing; the index is the
// event's position in the input.
TEST_P(PreviewInputTest, InputShapes) {
  std::string config = write("sluice.yaml",
                             "sources:\n  - name: web\n    write_key: k\n"
                             "destinations:\n  - name: tt\n    type: tiktok-conversions\n"
                             "    settings:\n      access_token: tok\n      pixel_code: PIX\n"
                             "    presets: ['Add to Cart']\n");
  std::string a =
      R"({"type":"track","event":"Product Added","messageId":"m1","properties":{"price":"x"}})";
  std::string b = R"({"type":"track","event":"Other","messageId":"m2"})";
  std::string c =
      R"({"type":"track","event":"Product Added","messageId":"m3","timestamp":"2024-03-15T10:20:30Z"})";
  std::vector<std::string> inputs = {a + "\n" + b + "\n" + c + "\n",
                                     "[" + a + "," + b + "," + c + "]",
                                     R"({"batch":[)" + a + "," + b + "," + c + "]}"};
  std::vector<std::string> first;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Output out = runPreview({"--config", config, "--now", "2024-06-01T12:00:00Z",
                             write("in" + std::to_string(k), inputs[k])});
    ASSERT_EQ(out.status, 0);
    ASSERT_EQ(out.lines.size(), 2u);
    json::object one = json::parse(out.lines[0]).as_object();
    EXPECT_EQ(one.at("index"), json::value(0));
    EXPECT_EQ(one.at("subscription"), json::value("Add to Cart"));
    EXPECT_EQ(one.at("error"), json::value("Price must be a number but it was a string."));
    json::object three = json::parse(out.lines[1]).as_object();
    EXPECT_EQ(three.at("index"), json::value(2));
    EXPECT_EQ(three.at("body").at("data").at(0).at("event_id"), json::value("m3"));
    EXPECT_EQ(three.at("body").at("data").at(0).at("event_time"), json::value(1710498030));
    if (k == 0) first = out.lines;
    EXPECT_EQ(out.lines, first);
  }
  // A broken trigger is a configuration error: exit 2, nothing on stdout.
  std::string bad = write("bad.yaml",
                          "sources:\n  - name: web\n    write_key: k\n"
                          "destinations:\n  - name: tt\n    type: tiktok-conversions\n"
                          "    settings:\n      access_token: tok\n      pixel_code: PIX\n"
                          "    presets: none\n    subscriptions:\n      - name: s\n"
                          "        trigger: 'event = '\n        mapping: {event: X}\n");
  Output broken = runPreview({"--config", bad, write("in", a)});
  EXPECT_EQ(broken.status, 2);
  EXPECT_TRUE(broken.lines.empty());
}

INSTANTIATE_TEST_SUITE_P(Shapes, PreviewInputTest, ::testing::Values("shapes"));

}  // namespace
}  // namespace sluice::tiktok
