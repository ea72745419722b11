// `sluice mock-tiktok --listen ADDR [--scenario FILE] [--record FILE] [--keep N]`: runs the fake
// TikTok Events API (src/mocktiktok) until SIGINT or SIGTERM. Prints the track URL on stdout.
// Exit 2 on bad usage (unreadable or invalid scenario, bad address), 1 when it cannot listen.
#include <CLI/CLI.hpp>

#include <csignal>
#include <charconv>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "core/clock.h"
#include "mocktiktok/mock_server.h"

namespace sluice::cli {
namespace {

struct MockTikTokFlags {
  std::string listen = "127.0.0.1:8899";
  std::string scenarioPath;
  std::string recordPath;
  size_t keep = 100'000;
  int threads = 2;
};

// "host:port", "[v6]:port" or ":port".
bool splitAddress(const std::string& text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  std::string h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  *host = h.empty() ? "127.0.0.1" : h;
  std::string p = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

int runMockTikTok(const MockTikTokFlags& flags) {
  mocktiktok::MockServerOptions options;
  if (!splitAddress(flags.listen, &options.host, &options.port)) {
    std::cerr << "mock-tiktok: bad --listen address '" << flags.listen << "'\n";
    return 2;
  }
  if (!flags.scenarioPath.empty()) {
    std::ifstream in(flags.scenarioPath);
    if (!in) {
      std::cerr << "mock-tiktok: cannot read " << flags.scenarioPath << "\n";
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto scenario = mocktiktok::parseScenario(text.str());
    if (!scenario) {
      std::cerr << "mock-tiktok: " << flags.scenarioPath << ": " << scenario.error().message << "\n";
      return 2;
    }
    options.scenario = std::move(*scenario);
  }
  options.mock.recordPath = flags.recordPath;
  options.mock.keepEvents = flags.keep;
  options.threads = flags.threads;

  // Block the stop signals before any thread starts, then wait for one of them.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  auto server = mocktiktok::MockServer::start(SystemClock::instance(), std::move(options));
  if (!server) {
    std::cerr << "mock-tiktok: " << server.error().toString() << "\n";
    return server.error().code == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << "mock-tiktok listening: " << (*server)->trackUrl() << std::endl;
  int signal = 0;
  sigwait(&stopSignals, &signal);
  (*server)->stop();
  std::cerr << "mock-tiktok: stopped; " << (*server)->mock().statsJson() << "\n";
  return 0;
}

}  // namespace

void addMockTikTokCommand(CLI::App& app, int* status) {
  auto flags = std::make_shared<MockTikTokFlags>();
  CLI::App* command = app.add_subcommand(
      "mock-tiktok", "Run a fake TikTok Events API for tests and drills (see src/mocktiktok)");
  command->add_option("--listen", flags->listen, "Address to listen on, host:port")
      ->capture_default_str();
  command->add_option("--scenario", flags->scenarioPath,
                      "YAML/JSON list of phases {duration, mode, token} to play over time");
  command->add_option("--record", flags->recordPath, "Append accepted events to this JSON-lines file");
  command->add_option("--keep", flags->keep, "Accepted events kept in memory for GET /mock/events")
      ->capture_default_str();
  command->add_option("--threads", flags->threads, "Server I/O threads")->capture_default_str();
  command->callback([flags, status] { *status = runMockTikTok(*flags); });
}

}  // namespace sluice::cli
