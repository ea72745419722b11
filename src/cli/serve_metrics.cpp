// Wires src/ops/metrics into `sluice serve`: the ingestion probe, GET /metrics behind the admin
// token, and, once the log and delivery run, the scrape-time snapshot of delivery and storage.
#include <memory>
#include <string>
#include <vector>

#include "cli/serve_app.h"
#include "cli/serve_ops.h"
#include "http/admin_throttle.h"
#include "ops/metrics/metrics.h"
#include "ops/metrics/snapshot.h"

namespace sluice::cli {

StoredBySource addMetrics(ServeApp& app, std::shared_ptr<http::AdminThrottle> throttle) {
  // Shared by the route, the component and the probe pointer; the app keeps the first two (and so
  // the object) until it is destroyed, after its server and ingestion API are gone.
  auto metrics = std::make_shared<ops::metrics::Metrics>();
  std::vector<std::string> sources;
  for (const auto& source : app.config().sources) sources.push_back(source.name);
  metrics->addSources(sources);
  app.setIngestProbe(metrics.get());
  metrics->setAdminToken(app.config().server.adminToken);
  // The route keeps `throttle` alive as long as the app keeps the route.
  app.addRoutes([metrics, throttle](http::Router& router) {
    router.add("/metrics", metrics->handler(*throttle));
  });
  const std::string storagePath = app.config().storage.path;
  ServeApp::Component component;
  component.name = "metrics";
  component.start = [metrics, &app, storagePath]() -> Result<void> {
    store::EventLog* log = &app.log();
    delivery::DeliveryService* delivery = &app.delivery();
    const Clock* clock = &app.clock();
    metrics->setSnapshotSource([log, delivery, clock, storagePath] {
      return ops::metrics::takeSnapshot(*log, *delivery, storagePath, *clock);
    });
    return ok();
  };
  // A new admin token applies at once, as on the dashboard.
  component.reload = [metrics](const config::Config& config) {
    metrics->setAdminToken(config.server.adminToken);
  };
  // Before the log and delivery stop: later scrapes expose ingestion only.
  component.stop = [metrics] { metrics->setSnapshotSource({}); };
  app.addComponent(std::move(component));
  return [metrics] { return metrics->storedBySource(); };
}

}  // namespace sluice::cli
