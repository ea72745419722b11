// `sluice log export` end to end: the real binary (SLUICE_BINARY) reads a log written here.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "store/sqlite_log.h"
#include "store/store_test_util.h"

namespace sluice::store {
namespace {

using testing::makeEvent;
using testing::TempDir;

struct CommandResult {
  int status = -1;
  std::string out;
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class LogExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* binary = std::getenv("SLUICE_BINARY");
    if (binary == nullptr || !std::filesystem::exists(binary)) {
      GTEST_SKIP() << "SLUICE_BINARY not built";
    }
    binary_ = binary;
    config_ = dir_.path() + "/sluice.yaml";
    std::ofstream(config_) << "storage:\n  path: " << dir_.path() << "/data\n"
                           << "sources:\n  - name: web\n    write_key: k1\n"
                           << "  - name: app\n    write_key: k2\n";
    SqliteLogOptions options;
    options.directory = dir_.path() + "/data";
    options.minFreeBytes = 0;
    auto log = openSqliteLog(options);
    ASSERT_TRUE(log.has_value());
    AppendRequest request;
    // 2024-06-01T00:00:00Z = 1717200000000; one event a minute, alternating sources.
    for (int i = 0; i < 6; ++i) {
      request.events.push_back(makeEvent(i % 2 == 0 ? "web" : "app", "m" + std::to_string(i),
                                         1'717'200'000'000 + i * 60'000));
      expected_.push_back(request.events.back().json);
    }
    ASSERT_TRUE((*log)->appendSync(std::move(request)).has_value());
  }

  std::string command(const std::string& args) {
    return binary_ + " log export --config " + config_ + " " + args;
  }

  TempDir dir_;
  std::string binary_;
  std::string config_;
  std::vector<std::string> expected_;
};

TEST_F(LogExportTest, WritesEveryEventAsStoredOnePerLine) {
  CommandResult r = run(command(""));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(lines(r.out), expected_);
}

TEST_F(LogExportTest, FiltersByTimeRangeAndSource) {
  CommandResult r = run(command("--since 2024-06-01T00:01:00Z --until 2024-06-01T00:04:00Z"));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(lines(r.out), (std::vector<std::string>{expected_[1], expected_[2], expected_[3]}));

  r = run(command("--source web --since 1717200060"));  // epoch seconds
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(lines(r.out), (std::vector<std::string>{expected_[2], expected_[4]}));
}

TEST_F(LogExportTest, WritesToAnOutputFile) {
  const std::string out = dir_.path() + "/out.jsonl";
  CommandResult r = run(command("--output " + out));
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.out.empty());
  std::ifstream in(out);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(lines(content.str()), expected_);
}

TEST_F(LogExportTest, BadArgumentsAndMissingLogsFail) {
  EXPECT_EQ(run(command("--since yesterday-ish")).status, 2);
  EXPECT_EQ(run(binary_ + " log export --config " + dir_.path() + "/missing.yaml").status, 2);
  std::ofstream(config_) << "storage:\n  path: " << dir_.path() << "/nothing\n"
                         << "sources:\n  - name: web\n    write_key: k1\n";
  EXPECT_EQ(run(command("")).status, 1);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/nothing/events.db"));  // not created
}

}  // namespace
}  // namespace sluice::store
