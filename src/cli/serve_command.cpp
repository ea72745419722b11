// `sluice serve --config FILE [--listen ADDR] [--port-file FILE]`: runs the gateway until SIGTERM
// or SIGINT, then stops gracefully (in-flight requests finish, the log is flushed) and exits 0.
// SIGHUP reloads the configuration for delivery (tokens, rates, destinations).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/config_loader.h"
#include "cli/logging.h"
#include "cli/serve_app.h"
#include "cli/serve_ops.h"
#include "config/config.h"
#include "http/admin_throttle.h"

namespace sluice::cli {
namespace {

struct ServeFlags {
  std::string configPath;
  std::string listen;
  std::string portFile;
};

bool isLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Writes `text` to `path` atomically (a temporary file renamed over it).
bool writeFileAtomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    if (!(out << text)) return false;
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  return !ec;
}

int runServe(const ServeFlags& flags) {
  auto config = loadConfigOrReport(flags.configPath);
  if (!config) return kExitConfigError;
  if (!flags.listen.empty()) {
    auto listen = parseListenAddress(flags.listen);
    if (!listen) {
      std::cerr << "--listen: " << listen.error().message << "\n";
      return kExitConfigError;
    }
    config->server.listenHost = listen->first;
    config->server.listenPort = listen->second;
    if (!isLoopback(config->server.listenHost) && config->server.adminToken.empty()) {
      std::cerr << "--listen: server.admin_token is required when listening beyond the loopback "
                   "interface\n";
      return kExitConfigError;
    }
  }
  if (auto logging = setupLogging(config->logging.level, config->logging.format); !logging) {
    std::cerr << logging.error().message << "\n";
    return kExitConfigError;
  }

  // Block the stop signals in every thread (threads inherit the mask) and wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ServeApp app(std::move(*config));
  // One count of wrong admin tokens per client address for every admin-protected route.
  auto adminThrottle = std::make_shared<http::AdminThrottle>(app.clock());
  auto storedBySource = addMetrics(app, adminThrottle);
  auto alerts = addAlerts(app);
  auto incidentsJson = addIncidents(app, alerts.onCanary);
  addDashboard(app, adminThrottle, alerts.json, incidentsJson, storedBySource);
  if (auto started = app.start(); !started) {
    spdlog::error("cannot start: {}", started.error().message);
    return 1;
  }
  spdlog::info("listening on {}", app.address());
  if (!flags.portFile.empty() &&
      !writeFileAtomically(flags.portFile, std::to_string(app.port()) + "\n")) {
    spdlog::error("cannot write the port file {}", flags.portFile);
    app.stop();
    return 1;
  }

  int received = 0;
  for (;;) {
    if (sigwait(&signals, &received) != 0) continue;
    if (received != SIGHUP) break;
    // SIGHUP: reload the configuration; delivery takes new tokens and settings and resumes paused
    // destinations. (The listener and storage settings apply at the next restart.)
    spdlog::info("received SIGHUP, reloading {}", flags.configPath);
    auto reloaded = loadConfigOrReport(flags.configPath);
    if (!reloaded) {
      spdlog::error("reload failed: the configuration is not valid; keeping the running one");
      continue;
    }
    if (auto r = app.reload(*reloaded); !r) {
      spdlog::error("reload: {}", r.error().message);
    }
  }
  spdlog::info("received {}, stopping", received == SIGTERM ? "SIGTERM" : "SIGINT");
  app.stop();
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return 0;
}

}  // namespace

void addServeCommand(CLI::App& app, int* status) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* serve = app.add_subcommand("serve", "Run the gateway: ingest events, store, deliver");
  addConfigOption(*serve, &flags->configPath);
  serve->add_option("--listen", flags->listen,
                    "Override server.listen, e.g. 127.0.0.1:8080 (port 0: any free port)");
  serve->add_option("--port-file", flags->portFile,
                    "Write the bound port to this file once listening");
  serve->callback([flags, status] { *status = runServe(*flags); });
}

}  // namespace sluice::cli
