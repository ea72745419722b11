// Segment's own Node library (@segment/analytics-node, from tests/node) sending to a real
// `sluice serve`: every event it reports as sent must be in the log, with its type.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "integration/harness.h"

namespace sluice::testing {
namespace {

std::string nodeDir() {
  const char* source = std::getenv("SLUICE_SOURCE_DIR");
  if (source != nullptr && *source != '\0') return std::string(source) + "/tests/node";
  return SLUICE_NODE_DIR;
}

TEST(SegmentNodeTest, AnalyticsNodeEventsAreStored) {
  if (!std::filesystem::exists(nodeDir() + "/node_modules/@segment/analytics-node")) {
    GTEST_SKIP() << "run `npm ci` in tests/node (scripts/test does) to run this test";
  }
  if (runProgram({"node", "--version"}, 10'000).exitCode != 0) GTEST_SKIP() << "node not found";

  TempDir dir;
  SluiceServer server(dir.path());
  ASSERT_TRUE(server.start()) << server.stderrText();
  const std::string runId = "run" + std::to_string(::getpid());
  auto result =
      runProgram({"node", nodeDir() + "/send_segment.mjs",
                  "http://127.0.0.1:" + std::to_string(server.port()), "test-write-key", runId},
                 60'000);
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;

  std::map<std::string, std::string> sent;  // messageId -> type
  std::string wrongKey;
  std::istringstream lines(result.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string outcome, type, rest;
    words >> outcome >> type;
    if (outcome == "ok") {
      words >> rest;
      sent[rest] = type;
    } else if (outcome == "failed") {
      ADD_FAILURE() << "the library failed to send: " << line;
    } else if (outcome == "wrong-key") {
      wrongKey = line;
    }
  }
  EXPECT_EQ(sent.size(), 36u) << result.out;
  EXPECT_FALSE(wrongKey.empty());
  EXPECT_EQ(wrongKey.find("accepted"), std::string::npos) << wrongKey;

  std::map<std::string, std::string> stored;
  size_t storedOfRun = 0;
  for (const auto& json : server.exportLog()) {
    stored[jsonField(json, "messageId")] = jsonField(json, "type");
    if (json.find(runId) != std::string::npos) ++storedOfRun;
  }
  for (const auto& [id, type] : sent) {
    auto it = stored.find(id);
    ASSERT_NE(it, stored.end()) << type << " " << id << " not stored";
    EXPECT_EQ(it->second, type) << id;
  }
  EXPECT_EQ(storedOfRun, 36u);  // nothing else stored (the wrong-key event was refused)
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace sluice::testing
