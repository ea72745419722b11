// The operations parts wired into `sluice serve` (src/ops): one function per part, each in its own
// src/cli/serve_<part>.cpp, called by serve_command.cpp before ServeApp::start().
#pragma once

#include <functional>
#include <string>

namespace sluice::cli {

class ServeApp;

// The incident log and canary events (serve_incidents.cpp). `onCanary(destination, ok, message)`
// hears every canary result (for a "canary failed" alert); returns the incidents JSON for the API.
using CanaryCallback =
    std::function<void(const std::string& destination, bool ok, const std::string& message)>;
std::function<std::string()> addIncidents(ServeApp& app, CanaryCallback onCanary = {});

}  // namespace sluice::cli
