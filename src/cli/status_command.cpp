// `sluice status --config FILE` or `sluice status --url URL [--token-file F]`: the dashboard's
// summary of a running server in the terminal (GET /api/summary and /api/alerts). With --config
// the server is the one at server.listen (refused when its port is 0: give --url) and the admin
// token is the configured one; --url overrides the address.
// Exit 0 when the summary was read (with --check: and every destination is healthy, else 3),
// 1 when the server cannot be read, 2 on bad usage or configuration.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/config_loader.h"
#include "ops/dashboard/http_get.h"
#include "ops/dashboard/status_report.h"

namespace sluice::cli {
namespace {

struct StatusFlags {
  std::string configPath;
  std::string url;
  std::string tokenFile;
  bool json = false;
  bool check = false;
  int64_t timeoutS = 10;
};

constexpr int kExitUnhealthy = 3;

std::string trimmed(std::string text) {
  const auto notSpace = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), notSpace));
  text.erase(std::find_if(text.rbegin(), text.rend(), notSpace).base(), text.end());
  return text;
}

// The URL of a server listening on `host:port` as seen from this machine.
std::string localUrl(const config::ServerConfig& server) {
  std::string host = server.listenHost;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(server.listenPort);
}

int runStatus(const StatusFlags& flags) {
  std::string base = flags.url;
  std::string token;
  if (!flags.configPath.empty()) {
    auto config = loadConfigOrReport(flags.configPath);
    if (!config) return kExitConfigError;
    if (base.empty() && config->server.listenPort == 0) {
      std::cerr << "status: server.listen in " << flags.configPath
                << " has port 0 (any free port): give --url http://HOST:PORT with the port the "
                   "server bound (sluice serve --port-file writes it)\n";
      return kExitConfigError;
    }
    if (base.empty()) base = localUrl(config->server);
    token = config->server.adminToken;
  } else if (base.empty()) {
    std::cerr << "status: give --config FILE or --url URL\n";
    return kExitConfigError;
  }
  if (!flags.tokenFile.empty()) {
    std::ifstream in(flags.tokenFile);
    std::stringstream text;
    if (!in || !(text << in.rdbuf())) {
      std::cerr << "status: cannot read the token file " << flags.tokenFile << "\n";
      return kExitConfigError;
    }
    token = trimmed(text.str());
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (auto parsed = ops::dashboard::parseHttpUrl(base + "/"); !parsed) {
    std::cerr << "status: " << parsed.error().message << "\n";
    return kExitConfigError;
  }
  const int64_t timeoutMs = flags.timeoutS * 1000;
  auto summary = ops::dashboard::httpGet(base + "/api/summary", token, timeoutMs);
  if (!summary) {
    std::cerr << "status: " << summary.error().message << "\n";
    return 1;
  }
  if (summary->status == 401) {
    std::cerr << "status: the server wants the admin token"
              << (flags.configPath.empty() ? " (--token-file FILE)" : " (server.admin_token)")
              << "\n";
    return 1;
  }
  if (summary->status != 200) {
    std::cerr << "status: " << base << "/api/summary answered HTTP " << summary->status << "\n";
    return 1;
  }
  auto healthy = ops::dashboard::allHealthy(summary->body);
  if (!healthy) {
    std::cerr << "status: " << healthy.error().message << "\n";
    return 1;
  }
  if (flags.json) {
    std::cout << summary->body << "\n";
  } else {
    std::string alerts;
    if (auto reply = ops::dashboard::httpGet(base + "/api/alerts", token, timeoutMs);
        reply && reply->status == 200) {
      alerts = reply->body;
    }
    auto text = ops::dashboard::formatStatus(summary->body, alerts);
    if (!text) {
      std::cerr << "status: " << text.error().message << "\n";
      return 1;
    }
    std::cout << *text;
  }
  return flags.check && !*healthy ? kExitUnhealthy : 0;
}

}  // namespace

void addStatusCommand(CLI::App& app, int* status) {
  auto flags = std::make_shared<StatusFlags>();
  CLI::App* command =
      app.add_subcommand("status", "Show the state of a running server (the dashboard's summary)");
  command
      ->add_option("--config,-c", flags->configPath,
                   "The server's configuration file (its server.listen and admin token)")
      ->envname("SLUICE_CONFIG");
  command->add_option("--url", flags->url, "The server's base URL, e.g. http://127.0.0.1:8080");
  command->add_option("--token-file", flags->tokenFile, "A file holding the admin token");
  command->add_flag("--json", flags->json, "Print the summary as JSON");
  command->add_flag("--check", flags->check, "Exit 3 when a destination is not healthy");
  command->add_option("--timeout", flags->timeoutS, "Seconds to wait for the server (default 10)");
  command->callback([flags, status] { *status = runStatus(*flags); });
}

}  // namespace sluice::cli
