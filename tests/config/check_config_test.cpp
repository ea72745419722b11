// `sluice check-config` and the shared config loader of the CLI, run in-process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/config_loader.h"

namespace sluice::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs `sluice <args>` with only the check-config command registered, capturing its output.
Outcome runCli(std::vector<std::string> args) {
  CLI::App app{"sluice"};
  app.require_subcommand(1);
  Outcome outcome;
  addCheckConfigCommand(app, &outcome.status);
  args.insert(args.begin(), "sluice");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  auto* oldOut = std::cout.rdbuf(out.rdbuf());
  auto* oldErr = std::cerr.rdbuf(err.rdbuf());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    outcome.status = app.exit(e);
  }
  std::cout.rdbuf(oldOut);
  std::cerr.rdbuf(oldErr);
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

class CheckConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-check-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  std::filesystem::path dir_;
};

TEST_F(CheckConfigTest, ValidFilePrintsOk) {
  const std::string path = write("ok.yaml", R"(sources:
  - {name: web, write_key: wk-SECRET}
  - {name: app, write_key: ak-SECRET}
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings: {access_token: tok-SECRET, pixel_code: P}
)");
  const Outcome o = runCli({"check-config", "--config", path});
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "OK: 2 sources, 1 destinations\n");
  EXPECT_EQ(o.err, "");
}

TEST_F(CheckConfigTest, PrintShowsMaskedJsonOnStdout) {
  const std::string path = write("ok.yaml", R"(sources:
  - {name: web, write_key: wk-SECRET}
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings: {access_token: tok-SECRET, pixel_code: P}
)");
  const Outcome o = runCli({"check-config", "-c", path, "--print"});
  EXPECT_EQ(o.status, 0);
  EXPECT_THAT(o.out, HasSubstr(R"("write_key": "***")"));
  EXPECT_THAT(o.out, HasSubstr(R"("access_token": "***")"));
  EXPECT_THAT(o.out, Not(HasSubstr("SECRET")));
  EXPECT_EQ(o.out.front(), '{');
  EXPECT_EQ(o.err, "OK: 1 sources, 1 destinations\n");
}

TEST_F(CheckConfigTest, InvalidFileExitsTwoWithEveryProblem) {
  const std::string path = write("bad.yaml", R"(server:
  listn: ":8080"
sources:
  - name: web
)");
  const Outcome o = runCli({"check-config", "--config", path});
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, path + ":2:3: server: unknown key 'listn' (did you mean 'listen'?)\n" + path +
                       ":4:5: sources[0].write_key: required\n"
                       "check-config: " + path + " is not valid\n");
}

TEST_F(CheckConfigTest, MissingFileExitsTwo) {
  const Outcome o = runCli({"check-config", "--config", (dir_ / "none.yaml").string()});
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.err, HasSubstr("cannot read configuration file"));
}

TEST_F(CheckConfigTest, ConfigOptionFromEnvironmentAndRequired) {
  const std::string path = write("ok.yaml", "sources:\n  - {name: web, write_key: k}\n");
  ::setenv("SLUICE_CONFIG", path.c_str(), 1);
  const Outcome fromEnv = runCli({"check-config"});
  ::unsetenv("SLUICE_CONFIG");
  EXPECT_EQ(fromEnv.status, 0) << fromEnv.err;
  EXPECT_EQ(fromEnv.out, "OK: 1 sources, 0 destinations\n");

  const Outcome missing = runCli({"check-config"});
  EXPECT_NE(missing.status, 0);
  EXPECT_THAT(missing.err, HasSubstr("--config"));
}

TEST_F(CheckConfigTest, LoaderReportsToTheGivenStream) {
  std::ostringstream err;
  const std::string path = write("bad.yaml", "sources: 5\n");
  EXPECT_FALSE(loadConfigOrReport(path, err));
  EXPECT_EQ(err.str(), path + ":1:10: sources: expected a list of sources\n");
  std::ostringstream none;
  const auto config = loadConfigOrReport(write("ok.yaml", "sources: [{name: a, write_key: b}]\n"),
                                         none);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->sources[0].name, "a");
  EXPECT_EQ(none.str(), "");
}

TEST_F(CheckConfigTest, DestinationsAreCompiledWithPositions) {
  const std::string path = write("trigger.yaml", R"(sources:
  - {name: web, write_key: k}
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings: {access_token: t, pixel_code: P}
    presets: none
    subscriptions:
      - name: broken
        trigger: 'event = = "x"'
)");
  const Outcome o = runCli({"check-config", "--config", path});
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.out, "");
  // The FQL parser's error is reported at the trigger's text (line 10, column 19).
  EXPECT_THAT(o.err, HasSubstr(path + ":10:19: "));
  EXPECT_THAT(o.err, HasSubstr("trigger"));
  EXPECT_THAT(o.err, HasSubstr("(destinations[0])"));
}

TEST_F(CheckConfigTest, LoaderAcceptsTheExamples) {
  ::setenv("SLUICE_WRITE_KEY", "example-write-key", 1);
  for (const char* example : {"sluice.yaml", "sluice-tiktok.yaml"}) {
    std::ostringstream err;
    const auto config =
        loadConfigOrReport(std::string(SLUICE_SOURCE_DIR_FALLBACK) + "/examples/" + example, err);
    EXPECT_TRUE(config) << example << ": " << err.str();
  }
  ::unsetenv("SLUICE_WRITE_KEY");
}

// The real binary, when it has been built: the examples pass check-config.
TEST_F(CheckConfigTest, BinaryChecksTheExamples) {
  const char* binary = std::getenv("SLUICE_BINARY");
  const std::string path = binary != nullptr ? binary : SLUICE_BINARY_FALLBACK;
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no sluice binary at " << path;
  const std::string examples = std::string(SLUICE_SOURCE_DIR_FALLBACK) + "/examples/";
  for (const char* example : {"sluice.yaml", "sluice-tiktok.yaml"}) {
    const std::string out = (dir_ / "out.txt").string();
    const std::string command = "env SLUICE_WRITE_KEY=k '" + path + "' check-config --config '" +
                                examples + example + "' > '" + out + "' 2>&1";
    const int rc = std::system(command.c_str());
    std::ifstream in(out);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(rc, 0) << example << ": " << text;
    EXPECT_THAT(text, HasSubstr("OK: 1 sources")) << example;
  }
  const std::string command = "env -u SLUICE_WRITE_KEY '" + path + "' check-config --config '" +
                              examples + "sluice.yaml' > /dev/null 2>&1";
  const int rc = std::system(command.c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 2) << rc;
}

}  // namespace
}  // namespace sluice::cli
