// Wires src/ops/dashboard into `sluice serve`: the page and the admin API routes, and, once the log
// and delivery run, the dashboard itself (its sampler and dead-letter retry worker).
#include <atomic>
#include <memory>

#include "cli/serve_app.h"
#include "cli/serve_ops.h"
#include "http/admin_throttle.h"
#include "ops/dashboard/dashboard.h"

namespace sluice::cli {

void addDashboard(ServeApp& app, std::shared_ptr<http::AdminThrottle> throttle,
                  std::function<std::string()> alertsJson,
                  std::function<std::string()> incidentsJson, StoredBySource storedBySource) {
  // Kept by the routes and the component, so the dashboard outlives every request that reached
  // it: stop() only hides it (new requests get 503) and stops its threads.
  struct Holder {
    std::shared_ptr<http::AdminThrottle> throttle;  // outlives the dashboard
    std::unique_ptr<ops::dashboard::Dashboard> dashboard;
    std::atomic<ops::dashboard::Dashboard*> current{nullptr};
  };
  auto holder = std::make_shared<Holder>();
  holder->throttle = std::move(throttle);
  app.addRoutes([holder](http::Router& router) {
    ops::dashboard::addDashboardRoutes(router, [holder] { return holder->current.load(); });
  });
  ops::dashboard::DashboardProviders providers;
  // Empty until the alerts and incidents parts hand theirs in: the API then lists nothing.
  providers.alertsJson = std::move(alertsJson);
  providers.incidentsJson = std::move(incidentsJson);
  providers.storedBySource = std::move(storedBySource);
  ServeApp::Component component;
  component.name = "dashboard";
  component.start = [holder, &app, providers]() -> Result<void> {
    auto dashboard = std::make_unique<ops::dashboard::Dashboard>(
        app.log(), app.delivery(), app.config(), app.clock(), *holder->throttle,
        ops::dashboard::DashboardOptions{}, providers);
    if (auto started = dashboard->start(); !started) return started;
    holder->dashboard = std::move(dashboard);
    holder->current = holder->dashboard.get();
    return ok();
  };
  component.reload = [holder](const config::Config& config) {
    if (auto* dashboard = holder->current.load()) dashboard->reload(config);
  };
  component.listening = [holder](const std::string& address) {
    if (auto* dashboard = holder->current.load()) dashboard->setListenAddress(address);
  };
  component.stop = [holder] {
    if (auto* dashboard = holder->current.exchange(nullptr)) dashboard->stop();
  };
  app.addComponent(std::move(component));
}

}  // namespace sluice::cli
