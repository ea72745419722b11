// The operations parts wired into `sluice serve` (src/ops): one function per part, each in its own
// src/cli/serve_<part>.cpp, called by serve_command.cpp before ServeApp::start().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace sluice::ops::alerts {
class AlertsView;
}  // namespace sluice::ops::alerts

namespace sluice::http {
class AdminThrottle;
}  // namespace sluice::http

namespace sluice::cli {

class ServeApp;

// Every admin-protected route counts wrong tokens in the one `throttle` it is given (per client
// address, http::adminCheck), so a guesser gains nothing by switching routes.
// GET /metrics and the ingestion probe (serve_metrics.cpp). Returns the events stored per source
// as the probe counted them (Metrics::storedBySource), for the dashboard.
using StoredBySource = std::function<std::map<std::string, uint64_t>()>;
StoredBySource addMetrics(ServeApp& app, std::shared_ptr<http::AdminThrottle> throttle);
// `/` and `/api/...` (serve_dashboard.cpp); the JSON of the alerts and incidents parts and the
// stored counts of the metrics part, when given.
void addDashboard(ServeApp& app, std::shared_ptr<http::AdminThrottle> throttle,
                  std::function<std::string()> alertsJson = {},
                  std::function<std::string()> incidentsJson = {},
                  StoredBySource storedBySource = {});
// The incident log and canary events (serve_incidents.cpp). `onCanary(destination, ok, message)`
// hears every canary result (for a "canary failed" alert); returns the incidents JSON for the API.
using CanaryCallback =
    std::function<void(const std::string& destination, bool ok, const std::string& message)>;
std::function<std::string()> addIncidents(ServeApp& app, CanaryCallback onCanary = {});
// Volume-drop and delivery alerts with their webhooks (serve_alerts.cpp): `json` gives the alerts
// as {"active":[...],"recent":[...]}, `onCanary` turns canary results into "canary" alerts, `view`
// has the rest (per-minute volume by event name: AlertsView::seriesJson()).
struct AlertsWiring {
  std::function<std::string()> json;
  CanaryCallback onCanary;
  std::shared_ptr<ops::alerts::AlertsView> view;
};
AlertsWiring addAlerts(ServeApp& app);

}  // namespace sluice::cli
